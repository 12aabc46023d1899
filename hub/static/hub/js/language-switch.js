// The language switch submits on change. A file rather than an onchange attribute: the
// Content-Security-Policy (hub/security.py) allows no inline script.
document.querySelectorAll('select[data-submit-on-change]').forEach((select) => {
  select.addEventListener('change', () => select.form.submit());
});
