/* okrsync's report: hovering a chart shows the date and exact figure of the value nearest the pointer, as a
   point on the drawn line (path.values). A chart's data-v (okrsync.present.charts.hover_data): the cycle's
   first day, the span in days, then each value's figure, with "+N" before one that is N days after the one
   before (and the next ones too, until another step); data-u: the unit. Nothing is loaded or evaluated, text
   is set as text, and the page's content security policy allows this script alone, by its hash. */
(() => {
  const LEFT = 46, PLOT = 266, DAY = 864e5, MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
  const charts = new WeakMap();
  let shown = null;

  const read = svg => {
    const t = svg.dataset.v.split(" "), start = Date.parse(t[0]), span = +t[1], marks = [];
    for (let i = 2, day = 0, step = 0; i < t.length; i++) {
      if (t[i][0] === "+") {
        step = +t[i].slice(1);
        continue;
      }
      day += step;
      const on = new Date(start + day * DAY), x = LEFT + PLOT * Math.min(1, Math.max(0, day / span));
      const when = `${on.getUTCDate()} ${MONTHS[on.getUTCMonth()]} ${on.getUTCFullYear()}`;
      marks.push([x, `${when}: ${t[i]}${svg.dataset.u || ""}`]);
    }
    const n = (svg.querySelector(".values")?.getAttribute("d") || "").match(/-?\d+/g) || [], line = [];
    for (let i = 0, x = 0, y = 0; i + 1 < n.length; i += 2) line.push([(x += +n[i]), (y += +n[i + 1])]);
    const g = svg.appendChild(document.createElementNS(svg.namespaceURI, "g"));
    g.setAttribute("class", "hv");
    const dot = g.appendChild(document.createElementNS(svg.namespaceURI, "circle"));
    const text = g.appendChild(document.createElementNS(svg.namespaceURI, "text"));
    return { marks, line, g, dot, text };
  };

  const yOn = (line, x) => {
    for (let i = 1; i < line.length; i++) {
      const [ax, ay] = line[i - 1], [bx, by] = line[i];
      if (x <= ax) return ay;
      if (x <= bx) return ay + ((by - ay) * (x - ax)) / (bx - ax);
    }
    return line.length ? line[line.length - 1][1] : 0;
  };

  const show = (svg, event) => {
    if (!charts.has(svg)) charts.set(svg, read(svg));
    const c = charts.get(svg), at = new DOMPoint(event.clientX, event.clientY);
    const px = at.matrixTransform(svg.getScreenCTM().inverse()).x;
    const [x, label] = c.marks.reduce((a, b) => (Math.abs(b[0] - px) < Math.abs(a[0] - px) ? b : a));
    const y = yOn(c.line, x);
    c.dot.setAttribute("cx", x);
    c.dot.setAttribute("cy", y);
    c.text.textContent = label;
    c.text.setAttribute("x", x);
    c.text.setAttribute("y", y > 40 ? y - 8 : y + 16);
    c.text.setAttribute("text-anchor", x > 220 ? "end" : x < 110 ? "start" : "middle");
    c.g.removeAttribute("display");
  };

  const hide = () => shown && charts.get(shown)?.g.setAttribute("display", "none");

  const follow = event => {
    const svg = event.target instanceof Element ? event.target.closest("svg[data-v]") : null;
    if (svg !== shown) hide();
    shown = svg;
    if (svg) show(svg, event);
  };
  document.addEventListener("pointermove", follow);
  document.addEventListener("pointerdown", follow); // a tap on a phone
  document.addEventListener("pointerout", event => event.relatedTarget || (hide(), (shown = null))); // the window
})();
