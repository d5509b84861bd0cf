// Light progressive enhancement only: every form works without it.
document.addEventListener("DOMContentLoaded", function () {
  var add = document.getElementById("add-element");
  var tpl = document.getElementById("element-row");
  var body = document.querySelector("#elements tbody");
  if (add && tpl && body) {
    add.addEventListener("click", function () {
      body.appendChild(tpl.content.cloneNode(true));
      var inputs = body.querySelectorAll("input[name=el_key]");
      if (inputs.length) inputs[inputs.length - 1].focus();
    });
    body.addEventListener("click", function (ev) {
      if (ev.target.classList.contains("remove-row")) ev.target.closest("tr").remove();
    });
    if (!body.querySelector("tr")) body.appendChild(tpl.content.cloneNode(true));
  }
});

// A file over the server's limit would be refused before the page could explain why; say it here first.
document.addEventListener("DOMContentLoaded", function () {
  var input = document.querySelector("input[type=file][data-max-bytes]");
  if (!input) return;
  input.form.addEventListener("submit", function (ev) {
    var max = parseInt(input.dataset.maxBytes, 10);
    var file = input.files && input.files[0];
    var box = document.getElementById("client-error");
    if (file && file.size > max) {
      ev.preventDefault();
      box.textContent = input.dataset.tooLarge.replace("{size}", file.size.toLocaleString()).replace("{max}", max.toLocaleString());
      box.hidden = false;
    } else if (box) {
      box.hidden = true;
    }
  });
});
