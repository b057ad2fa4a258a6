"""Each diagnostic check firing, and not firing."""

from __future__ import annotations

import os
from collections import namedtuple
from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics import corpus, environment, peers, selectors, workers
from indexes.embedders import embedder_spec
from indexes.models import Credential, CredentialKind, EmbeddingState, Entry, Peer
from indexes.peers import services
from monitoring.models import WorkerHeartbeat
from operations.models import Job, JobState
from tests.diagnostics.conftest import index_built

pytestmark = pytest.mark.django_db

Usage = namedtuple("Usage", "total used free")
GIB = 1024**3


def ids(check) -> list[str]:
    return [found.id for found in check.run()]


def credential_set(name: str = "github", **fields) -> Credential:
    saved = services.credential_set(
        name=name, kind=CredentialKind.GIT_TOKEN, secret="s3cret-token", actor=None, source="cli"
    )
    Job.objects.filter(pk=saved.job.pk).update(state=JobState.SUCCEEDED)  # its verification is over
    Credential.objects.filter(pk=saved.item.pk).update(**fields)
    return Credential.objects.get(pk=saved.item.pk)


def on_sqlite(settings) -> dict:
    """The databases setting as a SQLite deployment has it, whichever database this run uses (only
    the setting is read: the test's connection stays as it is)."""
    return {**settings.DATABASES, "default": {**settings.DATABASES["default"], "ENGINE": "django.db.backends.sqlite3"}}


class ProductionTests:
    @pytest.mark.parametrize(
        ("check", "overrides", "wanted"),
        [
            (environment.EmbeddedRedis(), {"REDIS_EMBEDDED": True}, "embedded-redis-in-production"),
            (environment.SqliteDatabase(), {"DATABASES": "sqlite"}, "sqlite-in-production"),
            (environment.DebugInProduction(), {"DEBUG": True}, "debug-in-production"),
            (environment.SecretKeyGenerated(), {"SECRET_KEY_GENERATED": True}, "secret-key-generated"),
        ],
    )
    def test_fires_in_production_only(self, settings, check, overrides, wanted):
        for name, value in overrides.items():
            setattr(settings, name, on_sqlite(settings) if value == "sqlite" else value)
        settings.PRODUCTION = False
        assert ids(check) == []
        settings.PRODUCTION = True
        assert ids(check) == [wanted]

    @pytest.mark.parametrize(
        ("check", "overrides"),
        [
            (environment.EmbeddedRedis(), {"REDIS_EMBEDDED": False}),
            (environment.DebugInProduction(), {"DEBUG": False}),
            (environment.SecretKeyGenerated(), {"SECRET_KEY_GENERATED": False}),
        ],
    )
    def test_quiet_in_production_when_set_right(self, settings, check, overrides):
        settings.PRODUCTION = True
        for name, value in overrides.items():
            setattr(settings, name, value)
        assert ids(check) == []

    @pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
    def test_postgres_in_production_is_quiet(self, settings):
        settings.PRODUCTION = True
        settings.DATABASES = {
            **settings.DATABASES,
            "default": {**settings.DATABASES["default"], "ENGINE": "django.db.backends.postgresql"},
        }
        assert ids(environment.SqliteDatabase()) == []


class DataDirSpaceTests:
    @pytest.mark.parametrize(
        ("usage", "wanted"),
        [
            (Usage(100 * GIB, 50 * GIB, 50 * GIB), []),
            (Usage(100 * GIB, 96 * GIB, 4 * GIB), ["data-dir-space"]),  # 4 %: under 5 %
            (Usage(10 * GIB, 9.2 * GIB, 0.8 * GIB), ["data-dir-space"]),  # 8 % but under 1 GiB
        ],
    )
    def test_fires_under_five_percent_or_one_gib(self, monkeypatch, usage, wanted):
        monkeypatch.setattr(environment.shutil, "disk_usage", lambda path: usage)
        assert ids(environment.DataDirSpace()) == wanted

    def test_says_how_much_is_free(self, monkeypatch):
        monkeypatch.setattr(environment.shutil, "disk_usage", lambda path: Usage(100 * GIB, 96 * GIB, 4 * GIB))
        (found,) = environment.DataDirSpace().run()
        assert "4.0 GiB free (4.0% of 100.0 GiB)" in found.message and "snapshots" in found.fix


class WorkerOnlineTests:
    def test_fires_when_no_worker_beats(self):
        WorkerHeartbeat.objects.all().delete()
        assert ids(workers.WorkerOnline()) == ["no-worker"]

    def test_quiet_when_one_beats_and_fires_again_when_it_goes_silent(self):
        WorkerHeartbeat.objects.all().delete()
        now = timezone.now()
        row = WorkerHeartbeat.objects.create(hostname="w@host", up_since=now, last_seen=now)
        assert ids(workers.WorkerOnline()) == []
        WorkerHeartbeat.objects.filter(pk=row.pk).update(last_seen=now - timedelta(hours=1))
        assert ids(workers.WorkerOnline()) == ["no-worker"]


class CredentialTests:
    def test_a_verified_credential_is_quiet(self):
        credential_set(last_ok=True, last_result="fine")
        assert ids(peers.CredentialsUsable()) == []

    def test_a_failing_one_says_why(self):
        credential_set(last_ok=False, last_result="the host answered 401: the token was refused")
        (found,) = peers.CredentialsUsable().run()
        assert found.id == "credential-failing:github"
        assert found.message.endswith("the host answered 401: the token was refused.") and "Settings page" in found.fix

    def test_one_never_verified_is_said_unless_its_verification_is_under_way(self):
        saved = services.credential_set(
            name="github", kind=CredentialKind.GIT_TOKEN, secret="tok", actor=None, source="cli"
        )
        assert saved.job.state == JobState.QUEUED
        assert ids(peers.CredentialsUsable()) == []
        Job.objects.filter(pk=saved.job.pk).update(state=JobState.FAILED)
        assert ids(peers.CredentialsUsable()) == ["credential-unverified:github"]

    def test_a_file_deleted_by_hand_is_said_with_its_path(self, settings):
        credential_set(last_ok=True)
        os.unlink(settings.CREDENTIALS_DIR / "github")
        (found,) = peers.CredentialsUsable().run()
        assert found.id == "credential-unreadable:github" and found.level == "critical"
        assert "is missing" in found.message and str(settings.CREDENTIALS_DIR / "github") in found.message
        assert found.fix == "Set it again on the Settings page."

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
    def test_a_file_made_unreadable_is_said(self, settings):
        credential_set(last_ok=True)
        os.chmod(settings.CREDENTIALS_DIR / "github", 0)
        assert ids(peers.CredentialsUsable()) == ["credential-unreadable:github"]

    def test_the_secret_is_never_in_a_diagnostic(self, settings):
        credential_set(last_ok=False, last_result="refused")
        assert "s3cret-token" not in repr(list(peers.CredentialsUsable().run()))


class PeerTests:
    def add(self, **fields) -> Peer:
        saved = services.peer_add(
            name="laptop", base_url="https://laptop.example.org", token="tok", actor=None, source="cli"
        )
        Job.objects.filter(pk=saved.job.pk).update(state=JobState.SUCCEEDED)
        Peer.objects.filter(pk=saved.item.pk).update(**fields)
        Credential.objects.filter(name="peer-laptop").update(
            **{k: v for k, v in fields.items() if k in ("last_ok", "last_result")}
        )
        return saved.item

    def test_a_reachable_peer_is_quiet(self):
        self.add(last_ok=True)
        assert ids(peers.PeersReachable()) == [] and ids(peers.CredentialsUsable()) == []

    def test_unreachable_at_its_last_verify_is_said_once(self):
        self.add(last_ok=False, last_result="laptop did not answer within 5 s")
        (found,) = peers.PeersReachable().run()
        assert found.id == "peer-unreachable:laptop" and "did not answer within 5 s." in found.message
        assert ids(peers.CredentialsUsable()) == []  # its token's failure is the peer's, said once

    def test_a_disabled_peer_is_quiet(self):
        self.add(last_ok=False, enabled=False)
        assert ids(peers.PeersReachable()) == []

    def test_one_never_verified_without_a_job_under_way_is_said(self):
        self.add(last_ok=None)
        assert ids(peers.PeersReachable()) == ["peer-unverified:laptop"]


class IndexStaleTests:
    def entry(self, external_id: str, *, days_ago: float) -> None:
        entry = Entry.objects.create(kind="manual", external_id=external_id, content_hash="h")
        Entry.objects.filter(pk=entry.pk).update(updated_at=timezone.now() - timedelta(days=days_ago))

    def test_an_index_built_after_the_last_change_is_quiet(self, settings):
        self.entry("a", days_ago=3)
        index_built(
            settings, built_at=(timezone.now() - timedelta(days=2)).isoformat(), embedder=embedder_spec().model_id
        )
        assert ids(corpus.IndexStale()) == []

    def test_a_change_missing_from_the_index_for_more_than_a_day_is_said(self, settings):
        index_built(
            settings, built_at=(timezone.now() - timedelta(days=5)).isoformat(), embedder=embedder_spec().model_id
        )
        self.entry("a", days_ago=2)
        (found,) = corpus.IndexStale().run()
        assert found.id == "index-stale" and "older than the corpus by more than a day" in found.message
        assert "reindex" in found.fix

    def test_a_change_of_the_last_hours_waits_a_day(self, settings):
        index_built(
            settings, built_at=(timezone.now() - timedelta(days=5)).isoformat(), embedder=embedder_spec().model_id
        )
        self.entry("a", days_ago=0.1)
        assert ids(corpus.IndexStale()) == []

    def test_no_index_at_all_under_an_old_corpus_is_said(self):
        self.entry("a", days_ago=2)
        (found,) = corpus.IndexStale().run()
        assert "no index was ever built" in found.message


class EmbedderChangedTests:
    def entry(self, external_id: str, model: str) -> None:
        Entry.objects.create(
            kind="manual",
            external_id=external_id,
            content_hash="h",
            embedding_state=EmbeddingState.READY,
            embedding_model=model,
        )

    def test_entries_of_the_configured_embedder_are_quiet(self):
        self.entry("a", embedder_spec().model_id)
        assert ids(corpus.EmbedderChanged()) == []

    @pytest.mark.parametrize("other", ["aaa-1", "zzz-1"])  # below and above the configured one
    def test_entries_of_another_embedder_are_said(self, other):
        self.entry("a", embedder_spec().model_id)
        self.entry("b", other)
        (found,) = corpus.EmbedderChanged().run()
        assert found.id == "embedder-changed" and other in found.message and "embed job" in found.fix

    def test_an_index_of_another_embedder_is_said(self, settings):
        index_built(settings, built_at=timezone.now().isoformat(), embedder="ngrams-128")
        assert ids(corpus.EmbedderChanged()) == ["index-embedder-changed"]


class ListTests:
    def test_a_check_that_crashes_is_a_diagnostic_not_an_error(self):
        class Broken(environment.DataDirSpace):
            """Free space, broken."""

            def run(self):
                raise RuntimeError("disk on fire")

        (found,) = selectors.diagnostics_run((Broken(),))
        assert found.id == "check-failed:Broken" and "disk on fire" in found.message

    def test_critical_first_and_cached_within_a_window(self, settings):
        WorkerHeartbeat.objects.all().delete()
        settings.PRODUCTION, settings.DEBUG = True, True
        found = selectors.diagnostics_current()
        assert [d.level for d in found] == sorted((d.level for d in found), key=lambda level: level != "critical")
        assert "debug-in-production" in [d.id for d in found]
        now = timezone.now()
        WorkerHeartbeat.objects.create(hostname="w@host", up_since=now, last_seen=now)
        assert selectors.diagnostics_current() is found or "no-worker" not in [
            d.id for d in selectors.diagnostics_current()
        ]
        assert "no-worker" not in [d.id for d in selectors.diagnostics_fresh()]
