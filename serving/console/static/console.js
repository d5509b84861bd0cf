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
