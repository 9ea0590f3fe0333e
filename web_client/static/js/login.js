// The sign-in form: posts JSON to /api/v1/auth/login, which sets the session cookie.
import { post } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const button = document.getElementById("login-submit");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const login = form.login.value.trim();
  const password = form.password.value;
  if (!login || !password) {
    error.textContent = "Enter your login and your password.";
    (login ? form.password : form.login).focus();
    return;
  }
  button.disabled = true;
  try {
    const reply = await post("/api/v1/auth/login", { login, password });
    // Supervisors and administrators land on the live queues, operators on the desk.
    const role = reply && reply.operator && reply.operator.role;
    window.location.assign(role === "supervisor" || role === "admin" ? "/supervisor" : "/desk");
  } catch (err) {
    error.textContent =
      err.status === 401 ? "Wrong login or password. Please try again." : err.message;
    form.password.value = "";
    form.password.focus();
  } finally {
    button.disabled = false;
  }
});
