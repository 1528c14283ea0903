/* celebalab explorer: the map is drawn here from the binary arrays the server sends once
 * (figures.map_spec). One scattergl trace per colour: plotly.js then converts one colour per
 * trace instead of one per point (the per-point conversion of 202,599 colours took ~1.4 s in
 * software WebGL). A re-clustering changes only `codes`, so the points are regrouped here. */
(function () {
  const TYPES = { f4: Float32Array, i4: Int32Array, u1: Uint8Array };

  function decode(spec) {
    const text = atob(spec.bdata);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new TYPES[spec.dtype](bytes.buffer);
  }

  // Drawing the map holds the main thread (~0.4 s for 202,599 points in software WebGL), so
  // the first time it waits until the pies are drawn and painted: the page shows them first.
  let piesPainted = false;
  function afterPies() {
    const start = performance.now();
    return new Promise((resolve) => {
      (function check() {
        if (piesPainted || document.querySelector("#pies .main-svg")
            || performance.now() - start > 5000) {
          piesPainted = true;
          requestAnimationFrame(() => setTimeout(resolve, 0));
        } else {
          setTimeout(check, 20);
        }
      })();
    });
  }

  function mapFigure(data) {
    if (!data) return window.dash_clientside.no_update;
    if (data.figure) return data.figure;
    return piesPainted ? figure(data) : afterPies().then(() => figure(data));
  }

  function figure(data) {
    const x = decode(data.x), y = decode(data.y), hover = decode(data.hover);
    const codes = decode(data.codes), names = data.names, n = x.length;
    const point = (i) => [hover[2 * i], hover[2 * i + 1], i];
    const counts = new Int32Array(data.palette.length);
    for (let i = 0; i < n; i++) counts[codes[i]]++;
    const groups = data.palette.map((colour, c) => ({
      x: new Float32Array(counts[c]), y: new Float32Array(counts[c]),
      customdata: new Array(counts[c]), text: names ? new Array(counts[c]) : undefined,
      colour, filled: 0,
    }));
    for (let i = 0; i < n; i++) {
      const g = groups[codes[i]], j = g.filled++;
      g.x[j] = x[i]; g.y[j] = y[i]; g.customdata[j] = point(i);
      if (names) g.text[j] = names[i];
    }
    const traces = groups.filter((g) => g.filled).map((g) => ({
      type: "scattergl", mode: "markers", x: g.x, y: g.y, customdata: g.customdata, text: g.text,
      marker: { color: g.colour, size: data.size, opacity: 0.8 },
      hovertemplate: data.hovertemplate, name: "faces", showlegend: false,
    }));
    if (data.person) {
      const p = data.person;
      traces.push({
        type: "scattergl", mode: "markers", name: "person", showlegend: false,
        x: p.map((i) => x[i]), y: p.map((i) => y[i]), customdata: p.map(point),
        text: names ? p.map((i) => names[i]) : undefined,
        hovertemplate: data.hovertemplate.replace("<br>", " (chosen)<br>"),
        marker: { size: 11, color: "rgba(0,0,0,0)", line: { width: 2, color: "#111" } },
      });
    }
    return { data: traces, layout: data.layout };
  }

  // A thumbnail clicked: its full image in the dialog, by source and row (thumbnails of the
  // similar faces come inline as data: URLs, so the URL is not derived from the thumbnail's).
  function enlarge(clicks, titles, source) {
    const ctx = window.dash_clientside.callback_context;
    const fired = ctx.triggered.length ? ctx.triggered[0] : null;
    if (!fired || !fired.value) return Array(3).fill(window.dash_clientside.no_update);
    const id = JSON.parse(fired.prop_id.slice(0, fired.prop_id.lastIndexOf(".")));
    const i = ctx.inputs_list[0].findIndex(
      (item) => item.id.gallery === id.gallery && item.id.row === id.row);
    if (i < 0) return Array(3).fill(window.dash_clientside.no_update);
    return [true, `/explorer/image/${Number(source)}/${Number(id.row)}`, titles[i]];
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    explorer: { mapFigure, enlarge },
  });
})();
