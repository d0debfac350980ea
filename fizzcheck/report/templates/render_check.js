(function () {
  var plots = document.querySelectorAll("svg.fizzcheck-plot"), bad = [];
  for (var i = 0; i < plots.length; i++) {
    var box = plots[i].getBoundingClientRect();
    var drawn = plots[i].querySelectorAll("circle").length >= Number(plots[i].getAttribute("data-points"));
    if (!(box.width > 0 && box.height > 0 && drawn)) { bad.push(i); }
  }
  var body = document.body;
  body.setAttribute("data-plots", String(plots.length));
  body.setAttribute("data-tables", String(document.querySelectorAll("table").length));
  body.setAttribute("data-render-check", bad.length ? "failed: " + bad.join(",") : "ok");
})();
