"use strict";
// The live dashboard: reads /kpis, /dimensions and /query of this server (with the token the user
// pasted, kept in sessionStorage) and draws the same tiles and charts as `kpi report`. Values are
// formatted as `kpi run` formats them (kpi_engine/formatting.py), charts as kpi_engine/report/svg.py.
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var timer = null;
  var details = {};  // name -> /kpis/{name} (formula, uses), read once per page
  var TOKEN_KEY = "kpi_engine.token";

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function isNumber(v) { return typeof v === "number" && isFinite(v); }

  // ---------------------------------------------------------------- formatting, as formatting.py
  function fixed(value, digits) {
    // Python's format(): the exact binary value, ties to even; with thousands separators
    var text = Math.abs(value).toFixed(digits);
    var scaled = Math.abs(value) * Math.pow(10, digits);
    if (scaled % 1 === 0.5) {  // an exact tie: round half to even
      var down = Math.floor(scaled);
      text = ((down % 2 === 0 ? down : down + 1) / Math.pow(10, digits)).toFixed(digits);
    }
    var parts = text.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var sign = value < 0 || Object.is(value, -0) ? "-" : "";  // Python keeps the sign of -0.001 as -0.00
    return sign + parts.join(".");
  }
  function pad2(n) { return (n < 10 ? "0" : "") + n; }
  function duration(seconds) {
    var sign = seconds < 0 ? "-" : "";
    seconds = Math.abs(seconds);
    if (seconds < 60) { return sign + (seconds >= 10 ? fixed(seconds, 0) : fixed(seconds, 1)) + "s"; }
    var total = Math.floor(seconds);
    var days = Math.floor(total / 86400), rest = total % 86400;
    var hours = Math.floor(rest / 3600); rest %= 3600;
    var minutes = Math.floor(rest / 60), secs = rest % 60;
    if (days) { return sign + days + "d " + pad2(hours) + "h"; }
    if (hours) { return sign + hours + "h " + pad2(minutes) + "m"; }
    return sign + minutes + "m " + pad2(secs) + "s";
  }
  function roundHalfEven(v) {
    var r = Math.round(v);
    return (Math.abs(v % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
  }
  function format(value, kpi) {
    if (value === null || value === undefined) { return "-"; }
    if (!kpi || typeof value !== "number") { return String(value); }
    var decimals = kpi.decimals;
    switch (kpi.format) {
      case "percent": return fixed(value * 100, decimals === null ? 1 : decimals) + "%";
      case "integer": return fixed(roundHalfEven(value), 0);
      case "duration": return duration(value);
      case "currency":
        var money = fixed(value, decimals === null ? 2 : decimals);
        return kpi.unit ? money + " " + kpi.unit : money;
      default:
        if (decimals === null) { decimals = Number.isInteger(value) ? 0 : 2; }
        var text = fixed(value, decimals);
        return kpi.unit ? text + " " + kpi.unit : text;
    }
  }
  function change(value, previous, fmt) {
    if (!isNumber(value) || !isNumber(previous) || previous === 0) { return null; }
    if (fmt === "percent") { return value - previous; }
    return (value - previous) / previous;
  }
  function changeText(delta, fmt) {
    if (delta === null) { return ""; }
    var text = fixed(delta * 100, 1);
    text = (text.charAt(0) === "-" ? "" : "+") + text;
    if (text === "-0.0") { text = "+0.0"; }
    return fmt === "percent" ? text + " pp" : text + "%";
  }
  function short(period, grain) {
    if (!period) { return "all"; }
    if (grain === "month") { return period.slice(0, 7); }
    if (grain === "quarter") { return period.slice(0, 4) + "-Q" + (Math.floor((Number(period.slice(5, 7)) - 1) / 3) + 1); }
    if (grain === "year") { return period.slice(0, 4); }
    return period;
  }

  // ---------------------------------------------------------------- drawing, as svg.py
  function extent(values, lines) {
    var found = values.concat(lines).filter(isNumber);
    if (!found.length) { return [0, 1]; }
    var low = Math.min.apply(null, found), high = Math.max.apply(null, found);
    if (low === high) { var p = Math.abs(low) * 0.1 || 1; return [low - p, high + p]; }
    var pad = (high - low) * 0.08;
    return [low - pad, high + pad];
  }
  function paths(xs, ys) {
    var runs = [[]];
    xs.forEach(function (x, i) {
      var y = ys[i];
      if (y === null) { if (runs[runs.length - 1].length) { runs.push([]); } return; }
      var run = runs[runs.length - 1];
      run.push((run.length ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1));
    });
    return runs.filter(function (r) { return r.length; }).map(function (r) { return r.join(" "); });
  }
  function sparkline(points, target) {
    var width = 120, height = 32, pad = 3;
    var values = points.map(function (p) { return isNumber(p.value) ? p.value : null; });
    var e = extent(values, [target]);
    var step = (width - 2 * pad) / Math.max(values.length - 1, 1);
    var y = function (v) { return pad + (e[1] - v) / (e[1] - e[0]) * (height - 2 * pad); };
    var xs = values.map(function (_, i) { return pad + i * step; });
    var ys = values.map(function (v) { return v === null ? null : y(v); });
    var out = '<svg class="spark" viewBox="0 0 ' + width + " " + height + '" width="' + width + '" height="' + height +
      '" aria-hidden="true" focusable="false">';
    if (isNumber(target)) {
      out += '<line class="target" x1="0" x2="' + width + '" y1="' + y(target).toFixed(1) + '" y2="' + y(target).toFixed(1) + '"/>';
    }
    paths(xs, ys).forEach(function (d) { out += '<path class="line" d="' + d + '"/>'; });
    points.forEach(function (p, i) {
      if (ys[i] !== null && (p.partial || i === points.length - 1)) {
        out += '<circle class="' + (p.partial ? "partial" : "last") + '" cx="' + xs[i].toFixed(1) + '" cy="' +
          ys[i].toFixed(1) + '" r="2.5"/>';
      }
    });
    return out + "</svg>";
  }
  function ticks(low, high) {
    var raw = (high - low) / 4;
    var magnitude = raw > 0 ? Math.pow(10, Math.floor(Math.log10(raw))) : 1;
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * magnitude; }).filter(function (s) { return s >= raw; })[0];
    var first = Math.ceil(low / step) * step, out = [];
    for (var i = 0; i < 6; i++) { if (first + i * step <= high + 1e-9) { out.push(first + i * step); } }
    return out;
  }
  function chart(kpi, points, grain) {
    var width = 640, height = 240, left = 70, right = 104, top = 12, bottom = 30;
    var values = points.map(function (p) { return isNumber(p.value) ? p.value : null; });
    var e = extent(values, [kpi.target, kpi.warning]);
    var innerW = width - left - right, innerH = height - top - bottom;
    var step = innerW / Math.max(values.length, 1);
    var xs = values.map(function (_, i) { return left + step * (i + 0.5); });
    var y = function (v) { return top + (e[1] - v) / (e[1] - e[0]) * innerH; };
    var out = '<svg class="chart" viewBox="0 0 ' + width + " " + height + '" role="img" aria-label="' +
      esc(kpi.title + ", by period") + '" aria-describedby="values-' + esc(kpi.name) + '">';
    ticks(e[0], e[1]).forEach(function (t) {
      out += '<line class="grid" x1="' + left + '" x2="' + (width - right) + '" y1="' + y(t).toFixed(1) + '" y2="' +
        y(t).toFixed(1) + '"/><text class="tick" x="' + (left - 6) + '" y="' + (y(t) + 4).toFixed(1) +
        '" text-anchor="end">' + esc(format(t, kpi)) + "</text>";
    });
    points.forEach(function (p, i) {
      if (p.partial) {
        out += '<rect class="partial-band" x="' + (xs[i] - step / 2).toFixed(1) + '" y="' + top + '" width="' +
          step.toFixed(1) + '" height="' + innerH + '"/><text class="partial-label" x="' + xs[i].toFixed(1) + '" y="' +
          (top + 12) + '" text-anchor="middle">in progress</text>';
      }
    });
    var every = Math.max(1, Math.ceil(points.length / 7));
    points.forEach(function (p, i) {
      if ((points.length - 1 - i) % every === 0) {
        out += '<text class="period" x="' + xs[i].toFixed(1) + '" y="' + (height - 10) + '" text-anchor="middle">' +
          esc(short(p.period, grain)) + (p.partial ? "*" : "") + "</text>";
      }
    });
    [["warning", kpi.warning], ["target", kpi.target]].forEach(function (line) {
      if (isNumber(line[1])) {
        var ly = y(line[1]).toFixed(1);
        out += '<line class="' + line[0] + '" x1="' + left + '" x2="' + (width - right) + '" y1="' + ly + '" y2="' + ly +
          '"/><text class="' + line[0] + '-label" x="' + (width - right + 4) + '" y="' + (Number(ly) + 4).toFixed(1) +
          '">' + line[0] + " " + esc(format(line[1], kpi)) + "</text>";
      }
    });
    var ys = values.map(function (v) { return v === null ? null : y(v); });
    paths(xs, ys).forEach(function (d) { out += '<path class="line" d="' + d + '"/>'; });
    points.forEach(function (p, i) {
      if (ys[i] !== null) {
        out += '<circle class="dot' + (p.partial ? " partial" : "") + '" cx="' + xs[i].toFixed(1) + '" cy="' +
          ys[i].toFixed(1) + '" r="3.5"><title>' + esc(short(p.period, grain) + ": " + p.formatted) + "</title></circle>";
      }
    });
    return out + "</svg>";
  }

  // ---------------------------------------------------------------- the page
  function tile(k, grain) {
    var h = k.headline, word = k.status !== "none" ? k.status : (isNumber(k.target) ? "no value" : "no target");
    return '<li class="tile" data-kpi="' + esc(k.name) + '" data-status="' + esc(k.status) + '">' +
      '<h3 class="tile-title"><a href="#kpi-' + esc(k.name) + '">' + esc(k.title) + "</a></h3>" +
      '<p class="value">' + esc(h ? h.formatted : "-") + "</p>" +
      '<p class="period">' + esc(h ? short(h.period, grain) : "no complete period") + "</p>" +
      '<p class="status"><span class="badge" aria-hidden="true"></span><span class="word">' + esc(word) + "</span></p>" +
      '<p class="change">' + (k.changeText ? esc(k.changeText + " vs " + short(k.previous.period, grain)) : "no change to show") + "</p>" +
      (isNumber(k.target) ? '<p class="target">target ' + esc(format(k.target, k)) + "</p>" : "") +
      (k.points.length > 1 ? sparkline(k.points, k.target) : "") + "</li>";
  }
  function section(k, grain, breakdown, by) {
    var rows = k.points.map(function (p) {
      return "<tr" + (p.partial ? ' class="partial"' : "") + '><th scope="row">' + esc(p.period || "all") +
        (p.partial ? '* <span class="note">in progress</span>' : "") + "</th><td>" + esc(p.formatted) + "</td>" +
        (isNumber(k.target) ? "<td>" + esc(p.status || "") + "</td>" : "") + "</tr>";
    }).join("");
    var out = '<section class="kpi" id="kpi-' + esc(k.name) + '" aria-labelledby="kpi-' + esc(k.name) + '-heading">' +
      '<h2 id="kpi-' + esc(k.name) + '-heading">' + esc(k.title) + "</h2>" +
      (k.description ? '<p class="description">' + esc(k.description) + "</p>" : "") +
      '<div class="figure">' + (k.points.length > 1 ? chart(k, k.points, grain) : "") +
      '<table class="values" id="values-' + esc(k.name) + '"><caption>' + esc(k.title) + ": values</caption>" +
      '<thead><tr><th scope="col">period</th><th scope="col">value</th>' +
      (isNumber(k.target) ? '<th scope="col">status</th>' : "") + "</tr></thead><tbody>" + rows + "</tbody></table></div>";
    if (breakdown) { out += breakdownTable(k, breakdown, by, grain); }
    var detail = details[k.name] || {}, shown = k.names || [];
    var uses = (detail.uses || []).map(function (used) {
      return shown.indexOf(used) >= 0 ? '<a href="#kpi-' + esc(used) + '">' + esc(used) + "</a>" : "<code>" + esc(used) + "</code>";
    }).join(", ");
    out += '<dl class="about">' + (detail.formula ? "<dt>Formula</dt><dd><code>" + esc(detail.formula) + "</code></dd>" : "") +
      (uses ? "<dt>Built from</dt><dd>" + uses + "</dd>" : "") + "<dt>Owner</dt><dd>" + esc(k.owner || "-") + "</dd><dt>Tags</dt><dd>" +
      esc((k.tags || []).join(", ") || "-") + "</dd><dt>Dataset</dt><dd>" + esc(k.dataset || "-") +
      "</dd><dt>Direction</dt><dd>" + esc(k.direction) + "</dd></dl></section>";
    return out;
  }
  function breakdownTable(k, rows, by, grain) {
    var periods = [], table = {}, order = [];
    rows.forEach(function (r) {
      var p = r.period === undefined ? null : r.period, key = r[by] === null ? "-" : String(r[by]);
      if (periods.indexOf(p) < 0) { periods.push(p); }
      if (!(key in table)) { table[key] = {}; order.push(key); }
      table[key][p] = r[k.name];
    });
    var head = '<tr><th scope="col">' + esc(by) + "</th>" + periods.map(function (p) {
      return '<th scope="col">' + esc(short(p, grain)) + "</th>";
    }).join("") + "</tr>";
    var body = order.map(function (key) {
      return '<tr><th scope="row">' + esc(key) + "</th>" + periods.map(function (p) {
        return "<td>" + esc(format(table[key][p], k)) + "</td>";
      }).join("") + "</tr>";
    }).join("");
    return '<section class="breakdown"><h3>By ' + esc(by) + '</h3><div class="scroll"><table class="breakdown-values">' +
      "<caption>" + esc(k.title) + " by " + esc(by) + ", every period</caption><thead>" + head + "</thead><tbody>" +
      body + "</tbody></table></div></section>";
  }

  // ---------------------------------------------------------------- reading the server
  function headers() {
    var token = sessionStorage.getItem(TOKEN_KEY);
    return token ? {"Authorization": "Bearer " + token} : {};
  }
  function get(path) {
    return fetch(path, {headers: headers(), cache: "no-store", credentials: "same-origin"}).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var message = body && body.error ? body.error.message : "HTTP " + response.status;
          if (response.status === 401) { message += ": paste a token of the server in Token"; }
          throw new Error(message);
        }
        return body;
      });
    });
  }
  function queryPath(kpis, extra) {
    var grain = $("grain").value, parts = kpis.map(function (k) { return "kpi=" + encodeURIComponent(k); });
    parts.push("grain=" + encodeURIComponent(grain), "status=true");
    if ($("from").value) { parts.push("from=" + $("from").value); }
    if ($("to").value) { parts.push("to=" + $("to").value); }
    return "query?" + parts.concat(extra || []).join("&");
  }
  function reported(rows, partial, keep) {
    // without From: the 12 periods ending at the last complete one, and the one in progress
    if ($("from").value || !rows.length || rows[0].period === undefined) { return rows; }
    var cut = partial.length ? partial.slice().sort()[0] : null;
    var complete = rows.filter(function (r) { return cut === null || r.period < cut; });
    if (!complete.length) { return rows; }
    var first = complete[Math.max(0, complete.length - keep)].period;
    return rows.filter(function (r) { return r.period >= first; });
  }
  function kpiView(info, rows, meta, partial) {
    var points = rows.map(function (r) {
      return {period: r.period === undefined ? null : r.period, value: r[info.name], formatted: format(r[info.name], meta),
              status: r[info.name + "__status"] || null, partial: partial.indexOf(r.period) >= 0};
    });
    var complete = points.filter(function (p) { return !p.partial; });
    var headline = complete.length ? complete[complete.length - 1] : null;
    var previous = complete.length > 1 ? complete[complete.length - 2] : null;
    var delta = headline && previous ? change(headline.value, previous.value, meta.format) : null;
    return {name: info.name, title: info.title, description: info.description, owner: info.owner, tags: info.tags,
            dataset: info.dataset, direction: info.direction, target: info.target, warning: info.warning,
            format: meta.format, unit: meta.unit, decimals: meta.decimals, points: points, headline: headline,
            previous: previous, changeText: changeText(delta, meta.format),
            status: (headline && headline.status) || "none"};
  }
  function fillDimensions(found) {
    var select = $("by"), chosen = select.value;
    var names = found.map(function (d) { return d.name; });
    select.innerHTML = '<option value="">none</option>' + names.map(function (n) {
      return '<option value="' + esc(n) + '"' + (n === chosen ? " selected" : "") + ">" + esc(n) + "</option>";
    }).join("");
  }
  function describe(grain, periods) {
    var text = grain + " by " + grain;
    if (periods.length) { text += ", " + short(periods[0], grain) + " to " + short(periods[periods.length - 1], grain); }
    if ($("by").value) { text += ", broken down by " + $("by").value; }
    $("query-text").textContent = "Live: " + text + ". Headline: the last complete period. Read " +
      new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC.";
  }

  function load() {
    var grain = $("grain").value, by = $("by").value;
    $("message").textContent = "";
    document.body.setAttribute("aria-busy", "true");
    return Promise.all([get("kpis"), get("dimensions")]).then(function (answers) {
      var kpis = answers[0], dimensions = answers[1];
      fillDimensions(dimensions);
      if (!kpis.length) { throw new Error("no KPI to show"); }
      var names = kpis.map(function (k) { return k.name; });
      var missing = names.filter(function (n) { return !(n in details); });
      return Promise.all(missing.map(function (n) {
        return get("kpis/" + encodeURIComponent(n)).then(function (d) { details[n] = d; });
      })).then(function () { return get(queryPath(names)); }).then(function (totals) {
        var partial = totals.meta.partial_periods || [];
        var rows = reported(totals.rows, partial, 12);
        var usable = [];
        dimensions.forEach(function (d) { if (d.name === by) { usable = d.kpis.filter(function (k) { return names.indexOf(k) >= 0; }); } });
        var extra = ["by=" + encodeURIComponent(by)];
        if (!$("from").value && rows.length && rows[0].period !== undefined) { extra.push("from=" + rows[0].period); }
        var broken = by && usable.length ? get(queryPath(usable, extra)) : Promise.resolve(null);
        return broken.then(function (split) {
          var views = kpis.map(function (info) {
            var view = kpiView(info, rows, totals.meta.kpis[info.name], partial);
            view.names = names;
            return view;
          });
          $("tiles").innerHTML = views.map(function (v) { return tile(v, grain); }).join("");
          $("sections").innerHTML = views.map(function (v) {
            return section(v, grain, split && usable.indexOf(v.name) >= 0 ? split.rows : null, by);
          }).join("");
          var periods = rows.map(function (r) { return r.period; }).filter(Boolean);
          describe(grain, periods);
          document.body.setAttribute("data-loaded", new Date().toISOString());
        });
      });
    }).catch(function (error) {
      $("message").textContent = error.message;
    }).then(function () {
      document.body.removeAttribute("aria-busy");
      schedule();
    });
  }
  function schedule() {
    if (timer) { clearTimeout(timer); }
    var seconds = Number($("refresh").value);
    timer = seconds > 0 ? setTimeout(load, seconds * 1000) : null;
  }

  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("controls").addEventListener("submit", function (event) {
    event.preventDefault();
    var token = $("token").value.trim();
    if (token) { sessionStorage.setItem(TOKEN_KEY, token); } else { sessionStorage.removeItem(TOKEN_KEY); }
    load();
  });
  ["grain", "from", "to", "by"].forEach(function (id) { $(id).addEventListener("change", load); });
  $("refresh").addEventListener("change", schedule);
  load();
})();
