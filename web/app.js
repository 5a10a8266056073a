// Headstore pages: read the token from the link, call the JSON API, show what it answered.
// No dependencies. Errors from the API are {"code", "message", "field"}; we show `message`.
"use strict";

const headstore = {
  token() {
    return new URLSearchParams(window.location.search).get("token") || "";
  },

  async get(path) {
    try {
      const response = await fetch(path, { headers: { Accept: "application/json" } });
      const data = await response.json().catch(() => null);
      return response.ok ? { ok: true, data } : { ok: false, error: data && data.message ? data : { message: `Something went wrong (HTTP ${response.status}).` } };
    } catch (error) {
      return { ok: false, error: { message: "We could not reach Headstore. Check your connection and try again." } };
    }
  },

  async post(path, body, headers = {}) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, error: { message: "We could not reach Headstore. Check your connection and try again." } };
    }
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (error) { data = null; }
    }
    if (response.ok) return { ok: true, status: response.status, data };
    const fallback = { message: `Something went wrong (HTTP ${response.status}). Please try again.` };
    return { ok: false, status: response.status, error: data && data.message ? data : fallback };
  },

  show(element, text, kind) {
    element.textContent = text;
    element.className = `message ${kind}`;
    if (kind === "error") element.focus();
  },

  // Wire a form: check the two password fields match, then `submit(values)` → API result.
  form(form, message, submit, onSuccess, onError = () => {}) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
      const values = Object.fromEntries(new FormData(form).entries());
      if ("confirm_password" in values && values.password !== values.confirm_password) {
        const confirm = form.querySelector("[name=confirm_password]");
        headstore.show(message, "The two passwords are not the same.", "error");
        confirm.setAttribute("aria-invalid", "true");
        return;
      }
      const button = form.querySelector("button");
      button.disabled = true;
      const result = await submit(values);
      button.disabled = false;
      if (result.ok) {
        onSuccess(result);
      } else {
        headstore.show(message, result.error.message, "error");
        onError(result.error);
        const field = result.error.field && form.querySelector(`[data-field="${result.error.field}"]`);
        if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
      }
    });
  },
};

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  const message = document.getElementById("message");
  const token = headstore.token();
  const missing = "This link is incomplete. Please open the whole link from your e-mail.";

  if (page === "verify-email") {
    const button = document.getElementById("verify");
    if (!token) { button.hidden = true; headstore.show(message, missing, "error"); return; }
    button.addEventListener("click", async () => {
      button.disabled = true;
      const result = await headstore.post("/v1/accounts/verify", { token });
      button.disabled = false;
      if (result.ok) {
        button.hidden = true;
        headstore.show(message, "Thank you: your e-mail address is verified. You can close this page.", "ok");
      } else {
        headstore.show(message, result.error.message, "error");
      }
    });
  }

  if (page === "reset-password") {
    const form = document.getElementById("reset");
    const request = document.getElementById("request");
    if (!token) { form.hidden = true; request.hidden = false; headstore.show(message, missing, "error"); }
    headstore.form(form, message,
      (values) => headstore.post("/v1/password-resets/confirm", { token, new_password: values.password }),
      () => { form.hidden = true; headstore.show(message, "Your password is changed. Sign in with the new one.", "ok"); },
      // A used or expired link cannot be retried: offer to mail a new one.
      (error) => { if (error.field !== "new_password") request.hidden = false; });
    headstore.form(request, message,
      (values) => headstore.post("/v1/password-resets", { email: values.email }),
      (result) => { request.hidden = true; headstore.show(message, result.data.message, "ok"); });
  }

  if (page === "invite") {
    if (!token) { headstore.show(message, "This invitation link is incomplete. Please open the whole link you were sent.", "error"); return; }
    (async () => {
      const link = await headstore.get(`/v1/invite-links/${encodeURIComponent(token)}`);
      if (!link.ok) { headstore.show(message, link.error.message, "error"); return; }
      const expert = await headstore.get(`/v1/experts/${encodeURIComponent(link.data.expert_id)}`);
      const name = expert.ok ? expert.data.name : "An expert";
      const details = document.getElementById("details");
      if (link.data.kind === "free") {
        document.getElementById("title").textContent = `${name} invites you to a free session`;
        details.textContent = link.data.redeemed
          ? "This one-time link has already been used."
          : "The whole session is free. The link works once.";
      } else {
        document.getElementById("title").textContent = `A paid session with ${name}`;
        const rate = expert.ok && expert.data.rate_per_minute;
        details.textContent = rate
          ? `${rate.amount} ${rate.currency} per minute, billed by the minute to your card; sessions last at most 90 minutes.`
          : "Billed by the minute to your card; sessions last at most 90 minutes.";
      }
      document.getElementById("how").hidden = link.data.kind === "free" && link.data.redeemed;
    })();
  }

  if (page === "expert-signup") {
    const form = document.getElementById("signup");
    if (!token) { form.hidden = true; headstore.show(message, missing, "error"); return; }
    headstore.form(form, message,
      (values) => headstore.post("/v1/expert-signup", { signup_token: token, password: values.password }),
      (result) => {
        form.hidden = true;
        const who = result.data.account ? ` as ${result.data.account.email}` : "";
        headstore.show(message, `Welcome to Headstore! Your expert account is ready and you are signed in${who}. Next, complete your profile.`, "ok");
        try { sessionStorage.setItem("headstore.tokens", JSON.stringify(result.data)); } catch (error) { /* private mode */ }
      });
  }
});
