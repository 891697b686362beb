// Added to a copy of the report page by tests/browser.rs (the page itself has no scripts):
// measures, as Chromium laid it out, every chart's legend, labels and marks against its plot
// area, and whether the page scrolls sideways. Writes {"svgs": n, "problems": [...]} into
// <pre id="geometry">.
(function () {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push("the page scrolls sideways: " + root.scrollWidth + " > " + root.clientWidth);
  }
  const svgs = document.querySelectorAll("svg");
  svgs.forEach(function (svg, i) {
    const vb = svg.viewBox.baseVal;
    const outer = svg.getBoundingClientRect();
    const scale = outer.width / vb.width;
    const box = function (el) {
      const r = el.getBoundingClientRect();
      return {
        x: (r.left - outer.left) / scale,
        y: (r.top - outer.top) / scale,
        w: r.width / scale,
        h: r.height / scale,
      };
    };
    const overlap = function (a, b) {
      return a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5;
    };
    const inside = function (a, b, slack) {
      return a.x >= b.x - slack && a.y >= b.y - slack && a.x + a.w <= b.x + b.w + slack && a.y + a.h <= b.y + b.h + slack;
    };
    const show = function (b) {
      return "(" + b.x.toFixed(1) + "," + b.y.toFixed(1) + " " + b.w.toFixed(1) + "x" + b.h.toFixed(1) + ")";
    };
    const name = "svg " + i + " (" + svg.getAttribute("aria-label") + ")";
    const plotEl = svg.querySelector("rect.plot");
    if (!plotEl) {
      problems.push(name + ": no plot area");
      return;
    }
    const plot = box(plotEl);
    const picture = { x: 0, y: 0, w: vb.width, h: vb.height };
    const legend = Array.from(svg.querySelectorAll("g.legend > *")).map(box);
    const labels = Array.from(svg.querySelectorAll("text"))
      .filter(function (t) { return !t.closest("g.legend"); })
      .map(function (t) { return { b: box(t), text: t.textContent }; });
    legend.forEach(function (b, k) {
      if (overlap(b, plot)) problems.push(name + ": legend element " + k + " " + show(b) + " overlaps the plot " + show(plot));
      if (!inside(b, picture, 0)) problems.push(name + ": legend element " + k + " " + show(b) + " leaves the picture");
    });
    const legendTexts = Array.from(svg.querySelectorAll("g.legend > text")).map(box);
    legendTexts.forEach(function (a, k) {
      legendTexts.slice(k + 1).forEach(function (b) {
        if (overlap(a, b)) problems.push(name + ": legend names " + show(a) + " and " + show(b) + " overlap");
      });
    });
    labels.forEach(function (l, k) {
      if (!inside(l.b, picture, 0)) problems.push(name + ": label '" + l.text + "' " + show(l.b) + " is clipped");
      if (overlap(l.b, plot)) problems.push(name + ": label '" + l.text + "' " + show(l.b) + " overlaps the plot");
      legend.forEach(function (g) {
        if (overlap(l.b, g)) problems.push(name + ": label '" + l.text + "' overlaps the legend");
      });
      labels.slice(k + 1).forEach(function (m) {
        if (overlap(l.b, m.b)) problems.push(name + ": labels '" + l.text + "' and '" + m.text + "' overlap");
      });
    });
    svg.querySelectorAll(".data").forEach(function (el, k) {
      const b = box(el);
      if (!inside(b, plot, 6)) problems.push(name + ": mark " + k + " " + show(b) + " leaves the plot " + show(plot));
    });
  });
  const pre = document.createElement("pre");
  pre.id = "geometry";
  pre.textContent = JSON.stringify({ svgs: svgs.length, problems: problems });
  document.body.appendChild(pre);
})();
