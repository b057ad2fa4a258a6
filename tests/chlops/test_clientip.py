from __future__ import annotations

from ipaddress import ip_network

from django.test import RequestFactory, override_settings

from chlops.clientip import client_ip

PROXIES = [ip_network("10.0.0.0/24"), ip_network("2001:db8::1")]


def request(remote_addr: str, forwarded_for: str | None = None):
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **meta)


class ClientIpTests:
    def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards(self):
        assert client_ip(request("198.51.100.7", "192.0.2.1")) == "198.51.100.7"

    @override_settings(CHLOPS_TRUSTED_PROXIES=PROXIES)
    def test_a_peer_that_is_not_a_trusted_proxy_is_the_client(self):
        assert client_ip(request("198.51.100.7", "192.0.2.1, 10.0.0.2")) == "198.51.100.7"

    @override_settings(CHLOPS_TRUSTED_PROXIES=PROXIES)
    def test_a_trusted_proxy_names_its_client(self):
        assert client_ip(request("10.0.0.2", "198.51.100.7")) == "198.51.100.7"

    @override_settings(CHLOPS_TRUSTED_PROXIES=PROXIES)
    def test_what_the_client_forwarded_itself_is_ignored(self):
        # The client sent "192.0.2.1"; the proxy appended the address it saw.
        assert client_ip(request("10.0.0.2", "192.0.2.1, 198.51.100.7")) == "198.51.100.7"

    @override_settings(CHLOPS_TRUSTED_PROXIES=PROXIES)
    def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_hop(self):
        assert client_ip(request("2001:db8::1", "192.0.2.1, 198.51.100.7, 10.0.0.9")) == "198.51.100.7"

    @override_settings(CHLOPS_TRUSTED_PROXIES=PROXIES)
    def test_a_trusted_proxy_without_a_usable_header_is_the_client(self):
        assert client_ip(request("10.0.0.2")) == "10.0.0.2"
        assert client_ip(request("10.0.0.2", "unknown")) == "10.0.0.2"
        assert client_ip(request("10.0.0.2", "garbage, 10.0.0.3")) == "10.0.0.3"

    @override_settings(CHLOPS_TRUSTED_PROXIES=PROXIES)
    def test_addresses_are_written_one_way(self):
        assert client_ip(request("::ffff:10.0.0.2", " 2001:DB8:0:0::7 ")) == "2001:db8::7"

    def test_no_address_is_none(self):
        assert client_ip(request("")) is None

