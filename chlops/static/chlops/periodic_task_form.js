/* The periodic task form (django-celery-beat): say in words what the chosen crontab means, below its help. */
(function () {
  "use strict";
  var $ = window.django && window.django.jQuery;
  var data = document.getElementById("readable-crontabs");
  if (!$ || !data) return;
  var readable = JSON.parse(data.textContent);
  var help = $(".field-crontab .help");
  var original = help.text();

  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    var said = readable[$("#id_crontab").val()];
    help.text(original);
    if (said) help.append($("<br>"), document.createTextNode("Translation: " + said));
  });
})();
