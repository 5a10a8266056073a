// The apply page (/apply?ref=CODE): the assessment's questions from the API, the referral code
// from the link; the applicant signs in (/v1/auth/login) and the application is posted to
// /v1/expert-applications as theirs. Uses `headstore` (app.js).
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  if (document.body.dataset.page !== "apply") return;
  const form = document.getElementById("apply");
  const message = document.getElementById("message");
  const questions = document.getElementById("questions");
  const ref = new URLSearchParams(window.location.search).get("ref");
  if (ref) document.getElementById("referral_code").value = ref.trim();

  const assessment = await headstore.get("/v1/expert-assessment");
  if (!assessment.ok) { form.hidden = true; headstore.show(message, assessment.error.message, "error"); return; }
  assessment.data.questions.forEach((question, index) => {
    const label = document.createElement("label");
    label.htmlFor = `answer-${index}`;
    label.textContent = question.text;
    const answer = document.createElement("textarea");
    answer.id = `answer-${index}`;
    answer.name = `answer:${question.question_id}`;
    answer.rows = 4;
    answer.cols = 40;
    answer.maxLength = 2000;
    answer.required = true;
    questions.append(label, answer);
  });

  headstore.form(form, message,
    async (values) => {
      const signedIn = await headstore.post("/v1/auth/login", { email: values.email, password: values.password });
      if (!signedIn.ok) return signedIn;
      return headstore.post("/v1/expert-applications", {
        name: values.name,
        answers: Object.entries(values)
          .filter(([key]) => key.startsWith("answer:"))
          .map(([key, text]) => ({ question_id: key.slice("answer:".length), answer: text })),
        referral_code: values.referral_code.trim() || null,
      }, { Authorization: `Bearer ${signedIn.data.access_token}` });
    },
    () => {
      form.hidden = true;
      headstore.show(message, "Thank you: your application is in. Our trustees will review it and we will e-mail you their decision.", "ok");
    });
});
