// Passkeys (WebAuthn) for gatehouse's pages. Served from /static/ under a CSP that allows
// only this server's scripts, so it is a plain script with no inline parts. It finds forms
// by data-passkey ("register", "signin", "second"), runs the browser's WebAuthn ceremony,
// puts the answer (base64url) into the form's hidden inputs and submits the form; the
// server does all the checking. Elements with class "passkey-only" start hidden and are
// shown only where the browser has WebAuthn, so nobody sees a button that cannot work.
"use strict";

(function () {
  var TIMEOUT = 300000; // five minutes: time to find a phone or a security key

  // ArrayBuffer -> base64url without padding, as the server expects.
  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // base64url (padded or not) -> Uint8Array.
  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(b64 + "===".slice((b64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  // A comma-separated list of base64url credential ids -> PublicKeyCredentialDescriptors.
  function descriptors(list) {
    return (list || "").split(",").map(function (s) { return s.trim(); })
      .filter(Boolean).map(function (id) { return { type: "public-key", id: fromB64url(id) }; });
  }

  // Words a person can act on, by DOMException name; the browsers' own texts are technical.
  var MESSAGES = {
    NotAllowedError: "The passkey request was cancelled or timed out. You can try again.",
    InvalidStateError: "This passkey is already registered for your account.",
    NotSupportedError: "This device has no passkey of a kind this site accepts.",
    SecurityError: "Passkeys cannot be used on this address.",
    AbortError: "The passkey request was interrupted. You can try again.",
    NoWebAuthn: "This browser does not support passkeys."
  };

  function showError(err) {
    var box = document.getElementById("passkey-error");
    if (!box) return;
    box.textContent = MESSAGES[err && err.name] || "The passkey could not be used. You can try again.";
    box.hidden = false;
  }

  function hideError() {
    var box = document.getElementById("passkey-error");
    if (box) box.hidden = true;
  }

  // Sets the form's input `name`, adding a hidden one if the page did not have it.
  function fill(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  // The prototype's submit, in case an input named "submit" shadows form.submit.
  function submit(form) {
    HTMLFormElement.prototype.submit.call(form);
  }

  // Puts an assertion (navigator.credentials.get) into the form and sends it.
  function sendAssertion(form, credential) {
    var r = credential.response;
    fill(form, "credential_id", toB64url(credential.rawId));
    fill(form, "client_data", toB64url(r.clientDataJSON));
    fill(form, "authenticator_data", toB64url(r.authenticatorData));
    fill(form, "signature", toB64url(r.signature));
    fill(form, "user_handle", r.userHandle ? toB64url(r.userHandle) : "");
    submit(form);
  }

  // Runs `ceremony` on each `type` event of `target`: one at a time, errors shown, and
  // never the page's default action (a plain form post without the passkey's answer).
  function on(target, type, ceremony) {
    var busy = false;
    target.addEventListener(type, function (event) {
      event.preventDefault();
      if (busy) return;
      if (!window.PublicKeyCredential) { showError({ name: "NoWebAuthn" }); return; }
      busy = true;
      hideError();
      // Through a promise, so that bad page data (atob throwing) is shown, not lost.
      Promise.resolve().then(ceremony).catch(showError).finally(function () { busy = false; });
    });
  }

  // Account page: create a new discoverable passkey that verifies the user.
  function setUpRegister(form) {
    var d = form.dataset;
    on(form, "submit", function () {
      var publicKey = {
        rp: { id: d.rpId, name: d.rpName },
        user: { id: fromB64url(d.userId), name: d.userName, displayName: d.userDisplay },
        challenge: fromB64url(d.challenge),
        pubKeyCredParams: [-7, -8, -257].map(function (alg) { return { type: "public-key", alg: alg }; }),
        authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "required" },
        attestation: "none",
        excludeCredentials: descriptors(d.exclude),
        timeout: TIMEOUT
      };
      return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
        if (!credential) return;
        var r = credential.response;
        fill(form, "client_data", toB64url(r.clientDataJSON));
        fill(form, "attestation_object", toB64url(r.attestationObject));
        fill(form, "transports", typeof r.getTransports === "function" ? r.getTransports().join(",") : "");
        submit(form);
      });
    });
  }

  // Login page, passwordless: offer passkeys in the username field's autofill
  // (conditional mediation) and on the "Sign in with a passkey" button.
  function setUpSignin(form) {
    var d = form.dataset;
    var controller = null;
    var pending = Promise.resolve();
    var modal = false; // the button's request runs; no conditional one may start
    var options = function () {
      return { challenge: fromB64url(d.challenge), rpId: d.rpId, userVerification: "required",
        allowCredentials: [], timeout: TIMEOUT };
    };

    function startConditional() {
      var pkc = window.PublicKeyCredential;
      if (!pkc || typeof pkc.isConditionalMediationAvailable !== "function") return;
      pending = pkc.isConditionalMediationAvailable().then(function (available) {
        if (!available || modal) return;
        controller = new AbortController();
        return navigator.credentials.get({ mediation: "conditional", publicKey: options(), signal: controller.signal })
          .then(function (credential) { if (credential) sendAssertion(form, credential); });
      }).catch(function () {
        // A background request: it fails when the person did not pick a passkey, or
        // when the authenticator refuses, and that is no error of theirs to show.
      });
    }

    var button = (d.button && document.getElementById(d.button)) || form.querySelector("#passkey-signin") ||
      document.getElementById("passkey-signin");
    if (button) {
      on(button, "click", function () {
        modal = true;
        if (controller) controller.abort();
        // Wait for the aborted request to settle: browsers allow one request at a time.
        return pending.then(function () {
          return navigator.credentials.get({ publicKey: options() });
        }).then(function (credential) {
          if (credential) sendAssertion(form, credential);
        }).catch(function (err) {
          modal = false;
          startConditional(); // keep autofill working after a cancelled attempt
          throw err;
        });
      });
    }
    // After a failed attempt the page says why; the person then chooses again (an
    // autofill request would otherwise answer at once with the same passkey).
    if (d.conditional !== "off") startConditional();
  }

  // Second step after the password: one of the account's passkeys, chosen by the server.
  function setUpSecond(form) {
    var d = form.dataset;
    on(form, "submit", function () {
      var publicKey = {
        challenge: fromB64url(d.challenge), rpId: d.rpId, allowCredentials: descriptors(d.allow),
        userVerification: "preferred", timeout: TIMEOUT
      };
      return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
        if (credential) sendAssertion(form, credential);
      });
    });
  }

  function start() {
    if (window.PublicKeyCredential) {
      document.querySelectorAll(".passkey-only").forEach(function (el) { el.hidden = false; });
    }
    var setUp = { register: setUpRegister, signin: setUpSignin, second: setUpSecond };
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      var f = setUp[form.dataset.passkey];
      if (f) f(form);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
