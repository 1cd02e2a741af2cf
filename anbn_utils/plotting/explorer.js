// The pair explorer of anbn_utils.plotting.explorer: one AN and one BN of a run, picked by
// the reader. Static: everything it shows is in the JSON beside it (no server, no request).
(function (root) {
  "use strict";
  const data = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const el = (role) => root.querySelector(`[data-role='${role}']`);
  const story = el("story"), anSel = el("an"), bnSel = el("bn"), follow = el("follow");
  const SVG = "http://www.w3.org/2000/svg";
  let shownMap = null;

  data.stories.forEach((s) => story.add(new Option(s, s)));
  data.ans.forEach((a, i) => anSel.add(new Option(
    `${a.name} (${a.why[0]}${a.why.length > 1 ? ` and ${a.why.length - 1} more` : ""})`, i)));
  data.bns.forEach((b, k) => bnSel.add(new Option(`${b.name}: ${b.label}`, k)));

  const cur = () => data.story[story.value];
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
  function num(x, digits) {
    if (x === null || x === undefined) return "–";
    if (x !== 0 && Math.abs(x) < 0.001) return x.toExponential(1);
    return x.toFixed(digits);
  }
  function row(cells, tag) {
    return "<tr>" + cells.map((c) => `<${tag || "td"}>${c}</${tag || "td"}>`).join("") + "</tr>";
  }

  function chart(an, bn) {
    const s = cur(), a = s.an_series[an], b = s.bn_series[bn];
    const W = 760, H = 210, L = 40, R = 10, T = 10, B = 32;
    const lo = Math.min(...a, ...b), hi = Math.max(...a, ...b);
    const x = (i) => L + (W - L - R) * i / Math.max(1, a.length - 1);
    const y = (v) => T + (H - T - B) * (hi - v) / Math.max(1e-9, hi - lo);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("data-role", "chart");
    const add = (name, attrs, text) => {
      const e = document.createElementNS(SVG, name);
      Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    };
    add("line", {x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: "#bbb"});
    add("line", {x1: L, x2: L, y1: T, y2: H - B, stroke: "#444"});
    add("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#444"});
    const seconds = (a.length - 1) * s.tr, step = Math.pow(10, Math.floor(Math.log10(Math.max(seconds, 1) / 2)));
    const every = seconds / step > 10 ? step * (seconds / step > 25 ? 5 : 2) : step;
    for (let t = 0; t <= seconds; t += every) {
      add("text", {x: x(t / s.tr), y: H - B + 14, "text-anchor": "middle", "font-size": 11}, String(Math.round(t)));
    }
    add("text", {x: (L + W - R) / 2, y: H - 3, "text-anchor": "middle", "font-size": 11}, "time (s)");
    [Math.ceil(lo), 0, Math.floor(hi)].forEach((v) =>
      add("text", {x: L - 5, y: y(v) + 4, "text-anchor": "end", "font-size": 11}, String(v)));
    add("text", {x: 12, y: (T + H - B) / 2, "font-size": 11, "text-anchor": "middle",
                 transform: `rotate(-90 12 ${(T + H - B) / 2})`}, "z");
    const line = (v, color, role) => add("polyline", {
      points: v.map((u, i) => `${x(i).toFixed(1)},${y(u).toFixed(1)}`).join(" "),
      fill: "none", stroke: color, "stroke-width": 1.3, "data-role": role});
    line(b, "#1f5fbf", "bn-line");
    line(a, "#c0392b", "an-line");
    return svg;
  }

  function render() {
    const s = cur(), an = +anSel.value, bn = +bnSel.value, A = data.ans[an], N = data.bns[bn];
    const r = s.pcc[an][bn], best = s.an_bn[an];
    el("head").innerHTML =
      `<b>${esc(A.name)}</b> and <b>${esc(N.name)}</b> (${esc(N.label)}) in ${esc(story.value)}` +
      (s.partner !== story.value ? ` (BNs of ${esc(s.partner)})` : "") +
      `: PCC <b>r = ${num(r, 3)}</b>. The AN's maximal PCC (Eq. 1) is ${num(s.an_max[an], 3)} with ` +
      `${esc(data.bns[best].name)}, rank ${s.rank_in_layer[an]} of ${A.n_layer} in layer ${A.layer}; ` +
      `the BN's best AN (Eq. 2) is ${esc(data.ans[s.bn_an[bn]].name)} (r = ${num(s.bn_max[bn], 3)}).`;
    const chartBox = el("chart-box");
    chartBox.replaceChildren(chart(an, bn));
    el("an-info").innerHTML = "<table>" +
      row(["layer", A.layer]) + row(["query head", A.head]) +
      (A.kv_head === null ? "" : row(["key-value head", A.kv_head])) + row(["unit", esc(A.unit)]) +
      row(["rank in its layer", `${s.rank_in_layer[an]} of ${A.n_layer}`]) +
      row(["carried because", esc(A.why.join("; "))]) + "</table>" +
      "<table data-role='pairs'>" + row(["query (tag)", "key (tag)", "q&middot;k"], "th") +
      s.top_pairs[an].map((p) => row([`${esc(p[0])} <small>${esc(p[1])}</small>`,
                                      `${esc(p[2])} <small>${esc(p[3])}</small>`, num(p[4], 3)])).join("") +
      "</table>";
    el("bn-info").innerHTML = "<table>" +
      row(["network label", `${esc(N.label)} (${Math.round(100 * N.share)} % of the votes)`]) +
      row(["peak (MNI mm)", N.peak.join(", ")]) +
      row(["best AN (Eq. 2)", `${esc(data.ans[s.bn_an[bn]].name)} (r = ${num(s.bn_max[bn], 3)})`]) + "</table>";
    if (shownMap !== bn) {
      el("map").srcdoc = data.map_docs[bn].map((i) => data.map_chunks[i]).join("");
      shownMap = bn;
    }
    let rows = row(["null", "test of", ...data.p_value_kinds], "th");
    data.nulls.forEach((n) => {
      const kinds = (u) => data.p_value_kinds.map((k) => num((s[u][n][k] || [])[u === "an_p" ? an : bn], 4));
      rows += row([esc(n), `${esc(A.name)} (its maximum over BNs)`, ...kinds("an_p")]);
      rows += row([esc(n), `${esc(N.name)} (its maximum over ANs)`, ...kinds("bn_p")]);
      const pair = s.pair_p_fwer[n];
      rows += row([esc(n), "this pair", ...data.p_value_kinds.map((k, i) =>
        i === data.p_value_kinds.length - 1 && pair ? num(pair[an][bn], 4) : "")]);
    });
    el("p-values").innerHTML = `<table>${rows}</table>`;
  }

  anSel.addEventListener("change", () => {
    if (follow.checked) bnSel.value = cur().an_bn[+anSel.value];
    render();
  });
  bnSel.addEventListener("change", () => {
    if (follow.checked) anSel.value = cur().bn_an[+bnSel.value];
    render();
  });
  story.addEventListener("change", render);
  // the first story's strongest pair
  const s0 = data.story[data.stories[0]];
  let first = 0;
  s0.an_max.forEach((v, i) => { if (v > s0.an_max[first]) first = i; });
  anSel.value = first;
  bnSel.value = s0.an_bn[first];
  render();
})(document.currentScript.parentElement);
