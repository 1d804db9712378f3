// The admin pages' copy buttons: <button data-copy="ID" data-copy-status="ID2"> copies the
// value of the element with id ID and says so in ID2. Served from /static/admin.js (the
// CSP allows only scripts from this server; no inline script). Without JavaScript the
// buttons stay hidden and the read-only field can be selected and copied by hand.
"use strict";

(function () {
  function say(statusId, text) {
    var status = statusId && document.getElementById(statusId);
    if (status) {
      status.textContent = text;
    }
  }

  function selectAndCopy(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function setUp(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) {
      return;
    }
    var statusId = button.getAttribute("data-copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      var label = field.labels && field.labels.length ? field.labels[0].textContent : "Value";
      var copied = function () {
        say(statusId, label + " copied to the clipboard.");
      };
      var fallback = function () {
        if (selectAndCopy(field)) {
          copied();
        } else {
          say(statusId, label + " is selected: copy it with your keyboard or menu.");
        }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(copied, fallback);
      } else {
        fallback();
      }
    });
  }

  function init() {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      setUp(buttons[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
