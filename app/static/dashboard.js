/* The operators' dashboard: fetches the /ops JSON endpoints with the session cookie and draws
   the targets, calls per hour (inline SVG, stacked by outcome, with axes and a legend), top
   services and items, the services' health, and the 12345 hotline and 好差评 (/ops/hotline:
   tickets by status and division, satisfaction by channel, division and item). Plain JS, no
   libraries, no network beyond the gateway itself. Every figure carries its raw value in
   data-value (and a data-testid) so tests can compare it with the API. Every time shown is in
   the gateway's zone (body data-timezone), as the hourly roll-ups are, whatever the browser's
   zone. */
"use strict";

(function () {
  var REFRESH_MS = 10000;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var HOUR_MS = 3600 * 1000;
  var OUTCOMES = ["success", "caller_error", "upstream_error", "gateway_error"];
  /* The histogram's last finite bound: a quantile reported "at least" this is in the open bucket. */
  var LAST_BOUND_TEXT = "≥ 10 s";
  var AT_LEAST_TITLE = "at least 10 s: latency is kept in buckets up to 10 s, the slower calls (timeouts) are not told apart";
  var REFUSED_TITLE = "calls refused before a service was matched: no or a bad token, an unknown service, a loop";
  var NO_ITEM_TITLE = "calls tied to no catalog item: refused before routing (they matched no service), or an operation no item is bound to";
  /* The 好差评 panel's items: the most rated, of the API's (at most 100). */
  var ITEM_ROWS = 10;
  var NO_RATED_ITEM_TITLE = "ratings tied to no catalog item: a ticket or call about no service item";
  var refreshes = 0;
  var zone = document.body.getAttribute("data-timezone") || "UTC";

  function q(selector) {
    return document.querySelector(selector);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (name) {
      if (attrs[name] !== undefined && attrs[name] !== null) node.setAttribute(name, String(attrs[name]));
    });
  }

  function integer(n) {
    return Math.round(n).toLocaleString("en-US");
  }

  function percent(ratio, digits) {
    return (ratio * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function ms(value) {
    return value === null || value === undefined ? "–" : value.toFixed(1);
  }

  /* A latency quantile: "≥ 10 s" when it fell in the histogram's open last bucket. */
  function quantile(node, value, atLeast, unit) {
    figure(node, value, atLeast ? LAST_BOUND_TEXT : value === null || value === undefined ? "–" : ms(value) + (unit || ""));
    node.setAttribute("data-at-least", atLeast ? "true" : "false");
    if (atLeast) node.setAttribute("title", AT_LEAST_TITLE);
    return node;
  }

  /* A moment as a wall-clock time in the gateway's zone. */
  function zoneTime(moment) {
    try {
      return new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
      }).format(moment);
    } catch (e) {
      return moment.toISOString().slice(11, 19) + " UTC";
    }
  }

  /* Round numbers for an axis: 1, 2 or 5 times a power of ten. */
  function niceStep(max, ticks) {
    var raw = Math.max(1, max) / ticks;
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / magnitude;
    var step = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
    return Math.max(1, step * magnitude);
  }

  function signed(n) {
    var text = Math.abs(n) >= 100 ? integer(Math.abs(n)) : Math.abs(n).toFixed(2);
    return (n < 0 ? "−" : "+") + text;
  }

  /* A figure: formatted text, raw value in data-value. */
  function figure(node, value, text) {
    node.setAttribute("data-value", value === null || value === undefined ? "" : String(value));
    node.textContent = text;
    return node;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (response) {
        if (response.status === 401) {
          window.location.assign("/ops/login");
          throw new Error("signed out");
        }
        if (!response.ok) throw new Error(url + " answered " + response.status);
        return response.json();
      }
    );
  }

  /* -- targets ---------------------------------------------------------------------------- */

  function progressBar(t) {
    var width = 300;
    var filled = Math.max(0, Math.min(1, t.ratio)) * width;
    var projected = t.target > 0 ? Math.max(0, Math.min(1, t.projected / t.target)) : 1;
    var box = svg("svg", {
      viewBox: "0 0 " + width + " 18",
      width: "100%",
      height: "18",
      role: "img",
      "aria-label": percent(t.ratio) + " of the target; projected " + integer(t.projected),
      "data-testid": "target-" + t.name + "-bar",
      "data-ratio": t.ratio,
    });
    box.appendChild(svg("rect", { x: 0, y: 0, width: width, height: 18, rx: 3, class: "bar-bg" }));
    box.appendChild(svg("rect", { x: 0, y: 0, width: projected * width, height: 18, rx: 3, class: "bar-projection" }));
    box.appendChild(svg("rect", { x: 0, y: 0, width: filled, height: 18, rx: 3, class: t.on_track ? "bar-done ok" : "bar-done behind" }));
    box.appendChild(svg("line", { x1: projected * width, x2: projected * width, y1: 0, y2: 18, class: "bar-marker" }));
    return box;
  }

  function drawTargets(data) {
    figure(q('[data-testid="year-end"]'), data.year_end, data.year_end);
    figure(q('[data-testid="days-left"]'), data.days_left, integer(data.days_left));
    var holder = q('[data-testid="targets"]');
    var cards = data.targets.map(function (t) {
      var id = "target-" + t.name;
      var card = el("article", { class: "target " + (t.on_track ? "ok" : "behind"), "data-testid": id });
      card.appendChild(el("h3", null, t.label));
      var numbers = el("p", { class: "target-numbers" });
      numbers.appendChild(figure(el("strong", { "data-testid": id + "-current" }), t.current, integer(t.current)));
      numbers.appendChild(document.createTextNode(" of "));
      numbers.appendChild(figure(el("span", { "data-testid": id + "-target" }), t.target, integer(t.target)));
      numbers.appendChild(document.createTextNode(" · "));
      numbers.appendChild(figure(el("span", { "data-testid": id + "-ratio" }), t.ratio, percent(t.ratio)));
      card.appendChild(numbers);
      card.appendChild(progressBar(t));
      var outlook = el("p", { class: "target-outlook" });
      outlook.appendChild(document.createTextNode("projected "));
      outlook.appendChild(figure(el("strong", { "data-testid": id + "-projected" }), t.projected, integer(t.projected)));
      outlook.appendChild(document.createTextNode(" · rate "));
      outlook.appendChild(figure(el("span", { "data-testid": id + "-rate" }), t.rate_per_day, signed(t.rate_per_day) + "/day"));
      outlook.appendChild(document.createTextNode(" · "));
      outlook.appendChild(
        figure(el("span", { class: "badge", "data-testid": id + "-on-track" }), t.on_track, t.on_track ? "on track" : "behind")
      );
      card.appendChild(outlook);
      card.appendChild(el("p", { class: "source", "data-testid": id + "-source" }, t.source));
      return card;
    });
    holder.replaceChildren.apply(holder, cards);
  }

  /* -- calls per hour --------------------------------------------------------------------- */

  function drawChart(data, now) {
    var byHour = {};
    data.groups.forEach(function (g) {
      byHour[Date.parse(g.key.hour)] = g;
    });
    var start = Date.parse(data.since);
    var end = data.until ? Math.min(Date.parse(data.until), now) : now;
    var slots = [];
    for (var t = start; t <= end && slots.length < 48; t += HOUR_MS) slots.push(t);
    var most = 0;
    slots.forEach(function (s) {
      if (byHour[s]) most = Math.max(most, byHour[s].calls);
    });
    var step = niceStep(most, 4);
    var max = Math.max(step, Math.ceil(most / step) * step);
    var W = 960, H = 240, top = 12, bottom = 40, left = 64;
    var plot = H - top - bottom;
    var firstHour = parseInt(data.since.slice(11, 13), 10);
    var slot = (W - left) / Math.max(1, slots.length);
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img", "aria-label": "calls per hour by outcome, last 24 hours, hours in " + zone });
    /* The y axis: round values with grid lines, and its title. */
    for (var v = 0; v <= max; v += step) {
      var y = H - bottom - (plot * v) / max;
      chart.appendChild(svg("line", { x1: left, x2: W, y1: y, y2: y, class: v === 0 ? "axis" : "grid" }));
      var label = svg("text", { x: left - 6, y: y + 3, class: "tick", "text-anchor": "end", "data-testid": "y-tick", "data-value": v });
      label.textContent = integer(v);
      chart.appendChild(label);
    }
    var yTitle = svg("text", { x: 12, y: top + plot / 2, class: "axis-title", "text-anchor": "middle", transform: "rotate(-90 12 " + (top + plot / 2) + ")", "data-testid": "y-title" });
    yTitle.textContent = "calls per hour";
    chart.appendChild(yTitle);
    slots.forEach(function (s, i) {
      var g = byHour[s];
      var calls = g ? g.calls : 0;
      var outcomes = g && g.outcomes ? g.outcomes : {};
      var x = left + i * slot + 1;
      var hour = g ? g.key.hour : new Date(s).toISOString();
      var hourLabel = String((firstHour + i) % 24).padStart(2, "0") + ":00";
      var bar = svg("g", {
        "data-testid": "hour-bar", "data-hour": hour, "data-calls": calls, "data-errors": g ? g.errors : 0,
      });
      var title = svg("title", null);
      var parts = OUTCOMES.map(function (o) { return integer(outcomes[o] || 0) + " " + o.replace("_", " "); });
      title.textContent = hourLabel + " " + zone + ": " + integer(calls) + " calls (" + parts.join(", ") + ")";
      bar.appendChild(title);
      /* Stacked from the bottom: success, then caller, upstream and gateway errors. */
      var base = H - bottom;
      OUTCOMES.forEach(function (o) {
        var n = outcomes[o] || 0;
        bar.setAttribute("data-" + o.replace("_", "-"), n);
        if (!n) return;
        var h = (plot * n) / max;
        base -= h;
        bar.appendChild(svg("rect", { x: x, y: base, width: Math.max(1, slot - 2), height: h, class: "seg-" + o }));
      });
      chart.appendChild(bar);
      if (i % 3 === 0) {
        /* Hours in the gateway's zone (the offset of data.since), not the browser's. */
        var tick = svg("text", { x: x + slot / 2, y: H - bottom + 14, class: "tick", "text-anchor": "middle", "data-testid": "x-tick" });
        tick.textContent = hourLabel;
        chart.appendChild(tick);
      }
    });
    var xTitle = svg("text", { x: left + (W - left) / 2, y: H - 6, class: "axis-title", "text-anchor": "middle", "data-testid": "x-title" });
    xTitle.textContent = "hour (" + zone + ")";
    chart.appendChild(xTitle);
    var holder = q('[data-testid="calls-chart"]');
    holder.replaceChildren(chart);
    var totals = data.totals;
    figure(q('[data-testid="calls-24h-total"]'), totals.calls, integer(totals.calls));
    figure(q('[data-testid="errors-24h-total"]'), totals.errors, integer(totals.errors));
    figure(q('[data-testid="error-rate-24h"]'), totals.error_rate, percent(totals.error_rate, 2));
    quantile(q('[data-testid="p95-24h"]'), totals.p95_ms, totals.p95_at_least, " ms");
    OUTCOMES.forEach(function (o) {
      var n = totals.outcomes ? totals.outcomes[o] || 0 : 0;
      figure(q('[data-testid="legend-' + o + '"]'), n, integer(n));
    });
  }

  /* -- tables ----------------------------------------------------------------------------- */

  function nameCell(rowid, g) {
    var td = el("td", { "data-testid": rowid + "-name" });
    if (g.key.refused_before_routing) {
      td.setAttribute("title", REFUSED_TITLE);
      td.appendChild(el("em", { class: "refused" }, "refused before routing"));
    } else if (g.key.item !== undefined) {
      /* An item: its name from the catalog, then its code. */
      if (g.key.item_name) td.appendChild(el("span", { "data-testid": rowid + "-item-name" }, g.key.item_name));
      if (g.key.item) td.appendChild(el("code", { class: "code" }, g.key.item));
      if (!g.key.item) {
        td.textContent = g.label;
        td.setAttribute("title", NO_ITEM_TITLE);
      }
    } else {
      td.textContent = g.label;
    }
    return td;
  }

  function drawTop(testid, rowid, data, name) {
    var body = q('[data-testid="' + testid + '"] tbody');
    var rows = data.groups.map(function (g) {
      var tr = el("tr", { "data-testid": rowid, "data-key": name(g), class: g.key.refused_before_routing ? "refused" : null });
      tr.appendChild(nameCell(rowid, g));
      tr.appendChild(figure(el("td", { class: "num", "data-testid": rowid + "-calls" }), g.calls, integer(g.calls)));
      tr.appendChild(figure(el("td", { class: "num", "data-testid": rowid + "-errors" }), g.errors, integer(g.errors)));
      tr.appendChild(figure(el("td", { class: "num", "data-testid": rowid + "-error-rate" }), g.error_rate, percent(g.error_rate, 2)));
      tr.appendChild(quantile(el("td", { class: "num", "data-testid": rowid + "-p95" }), g.p95_ms, g.p95_at_least));
      return tr;
    });
    if (!rows.length) rows = [el("tr", null)];
    if (!data.groups.length) rows[0].appendChild(el("td", { colspan: 5, class: "empty" }, "no calls in the last 24 hours"));
    body.replaceChildren.apply(body, rows);
  }

  function drawServices(data) {
    var body = q('[data-testid="services"] tbody');
    var rows = data.services.map(function (s) {
      var state = s.breaker ? s.breaker.state : "–";
      var tr = el("tr", { "data-testid": "service-row", "data-service": s.service, class: "breaker-" + state });
      tr.appendChild(el("td", null, s.service + " " + s.name + " (v" + s.version + ")"));
      tr.appendChild(el("td", { "data-testid": "service-status" }, s.status));
      tr.appendChild(el("td", { "data-testid": "service-breaker", "data-value": state }, state));
      var hour = s.last_hour;
      tr.appendChild(figure(el("td", { class: "num", "data-testid": "service-calls" }), hour.calls, integer(hour.calls)));
      tr.appendChild(figure(el("td", { class: "num", "data-testid": "service-error-rate" }), hour.error_rate, percent(hour.error_rate, 2)));
      tr.appendChild(quantile(el("td", { class: "num", "data-testid": "service-p95" }), hour.p95_ms, hour.p95_at_least));
      tr.appendChild(figure(el("td", { class: "num", "data-testid": "service-recent-error-rate" }), s.recent.error_rate, s.recent.calls ? percent(s.recent.error_rate, 2) : "–"));
      tr.appendChild(el("td", { class: "error", "data-testid": "service-last-error" }, s.last_error || ""));
      return tr;
    });
    body.replaceChildren.apply(body, rows);
  }

  /* -- 12345 hotline and 好差评 ------------------------------------------------------------ */

  function rate(value, digits) {
    return value === null || value === undefined ? "–" : percent(value, digits);
  }

  function emptyRow(columns, text) {
    var tr = el("tr", null);
    tr.appendChild(el("td", { colspan: columns, class: "empty" }, text));
    return tr;
  }

  /* Ratings per group (channel, division, item): how many, the satisfaction rate, the bad ones. */
  function drawRatings(testid, rowid, groups, name) {
    var body = q('[data-testid="' + testid + '"] tbody');
    var rows = groups.map(function (g) {
      var tr = el("tr", { "data-testid": rowid, "data-key": g.key || "" });
      var td = el("td", { "data-testid": rowid + "-name" });
      name(td, g);
      tr.appendChild(td);
      tr.appendChild(figure(el("td", { class: "num", "data-testid": rowid + "-ratings" }), g.ratings, integer(g.ratings)));
      var rateCell = figure(el("td", { class: "num", "data-testid": rowid + "-rate" }), g.rate, rate(g.rate));
      rateCell.setAttribute("title", integer(g.satisfied) + " of " + integer(g.ratings) + " satisfied");
      tr.appendChild(rateCell);
      var bad = g.levels["dissatisfied"] + g.levels["very-dissatisfied"];
      tr.appendChild(figure(el("td", { class: "num", "data-testid": rowid + "-bad" }), bad, integer(bad)));
      return tr;
    });
    if (!rows.length) rows = [emptyRow(4, "no ratings yet")];
    body.replaceChildren.apply(body, rows);
  }

  function itemCell(td, g) {
    if (!g.key) {
      td.setAttribute("title", NO_RATED_ITEM_TITLE);
      td.appendChild(el("em", { class: "refused" }, "no item"));
      return;
    }
    if (g.name) td.appendChild(el("span", { "data-testid": "hotline-satisfaction-item-label" }, g.name));
    else td.setAttribute("title", "not in the catalog");
    td.appendChild(el("code", { class: "code" }, g.key));
  }

  function drawHotline(data) {
    var tickets = data.tickets, onTime = data.on_time, cards = data.cards;
    var satisfaction = data.satisfaction, followUps = data.follow_ups;
    figure(q('[data-testid="hotline-yellow-days"]'), data.yellow_days, integer(data.yellow_days));
    figure(q('[data-testid="hotline-tickets-total"]'), tickets.total, integer(tickets.total));
    figure(q('[data-testid="hotline-tickets-open"]'), tickets.open, integer(tickets.open));
    figure(q('[data-testid="hotline-on-time-rate"]'), onTime.rate, rate(onTime.rate));
    q('[data-testid="hotline-on-time-of"]').textContent =
      "(" + integer(onTime.closed_on_time) + " of " + integer(onTime.closed) + " closed)";
    figure(q('[data-testid="hotline-open-late"]'), onTime.open_late, integer(onTime.open_late));
    figure(q('[data-testid="hotline-satisfaction-rate"]'), satisfaction.rate, rate(satisfaction.rate));
    q('[data-testid="hotline-satisfaction-of"]').textContent =
      "(" + integer(satisfaction.satisfied) + " of " + integer(satisfaction.ratings) + " ratings)";
    ["red", "yellow"].forEach(function (colour) {
      var node = figure(q('[data-testid="hotline-cards-' + colour + '"]'), cards[colour], integer(cards[colour]));
      node.setAttribute("title", integer(cards.tickets[colour]) + " tickets, " + integer(cards.follow_ups[colour]) + " follow-ups");
    });
    figure(q('[data-testid="hotline-follow-ups-open"]'), followUps.open, integer(followUps.open));
    figure(q('[data-testid="hotline-follow-ups-overdue"]'), followUps.overdue, integer(followUps.overdue));

    var statuses = q('[data-testid="hotline-statuses"] tbody');
    statuses.replaceChildren.apply(statuses, tickets.by_status.map(function (s) {
      var tr = el("tr", { "data-testid": "hotline-status", "data-key": s.status });
      tr.appendChild(el("td", null, s.label + " " + s.status));
      tr.appendChild(figure(el("td", { class: "num", "data-testid": "hotline-status-tickets" }), s.tickets, integer(s.tickets)));
      return tr;
    }));

    drawRatings("hotline-channels", "hotline-channel", satisfaction.by_channel, function (td, g) {
      td.textContent = (g.name || g.key || "–") + (g.name ? " " + g.key : "");
    });
    drawRatings("hotline-satisfaction-divisions", "hotline-satisfaction-division", satisfaction.by_division, function (td, g) {
      td.textContent = (g.key || "–") + (g.name ? " " + g.name : "");
    });
    /* The most rated items first (the API's order): the catalog's name, then the code. */
    var items = satisfaction.by_item.slice(0, ITEM_ROWS);
    drawRatings("hotline-satisfaction-items", "hotline-satisfaction-item", items, itemCell);
    var more = q('[data-testid="hotline-satisfaction-items-more"]');
    var rated = satisfaction.by_item.length;
    figure(more, items.length, items.length < rated
      ? "the " + integer(items.length) + " most rated of " + (satisfaction.items_truncated ? "more than " : "") + integer(rated) +
        " rated items; all of them: GET /ops/hotline"
      : "");
    more.parentNode.hidden = items.length >= rated;

    /* Tickets and follow-ups side by side per division (a follow-up's division: the rated item's). */
    var byCode = {};
    function entry(code, name) {
      if (!byCode[code]) byCode[code] = { code: code, name: name, tickets: null, followUps: null };
      return byCode[code];
    }
    tickets.by_division.forEach(function (d) { entry(d.division, d.division_name).tickets = d; });
    followUps.by_division.forEach(function (d) { entry(d.division, d.division_name).followUps = d; });
    var divisions = q('[data-testid="hotline-divisions"] tbody');
    var divisionRows = Object.keys(byCode).sort().map(function (code) {
      var d = byCode[code], t = d.tickets || {}, f = d.followUps || {};
      var tr = el("tr", { "data-testid": "hotline-division", "data-key": code });
      tr.appendChild(el("td", null, code + " " + (d.name || "")));
      /* Past a deadline (red) shows in the error colour. */
      function cell(name, value, late) {
        var n = value || 0;
        var td = el("td", { class: "num" + (late && n ? " error" : ""), "data-testid": "hotline-division-" + name });
        tr.appendChild(figure(td, n, integer(n)));
      }
      cell("open", t.open);
      cell("red", t.red, true);
      cell("yellow", t.yellow);
      var onTimeRate = t.closed ? t.closed_on_time / t.closed : null;
      tr.appendChild(figure(el("td", { class: "num", "data-testid": "hotline-division-on-time" }), onTimeRate, rate(onTimeRate)));
      cell("follow-ups", f.open);
      cell("overdue", f.overdue, true);
      return tr;
    });
    if (!divisionRows.length) divisionRows = [emptyRow(7, "no tickets or follow-ups yet")];
    divisions.replaceChildren.apply(divisions, divisionRows);
  }

  /* -- refresh ---------------------------------------------------------------------------- */

  function refresh() {
    var now = Date.now();
    var since = encodeURIComponent(new Date(now - 23 * HOUR_MS).toISOString());
    var counts = "/ops/access-counts?since=" + since + "&group_by=";
    return Promise.all([
      getJSON("/ops/targets"),
      getJSON(counts + "hour"),
      getJSON(counts + "service&limit=10"),
      getJSON(counts + "item&limit=10"),
      getJSON("/ops/services"),
      getJSON("/ops/hotline"),
    ])
      .then(function (answers) {
        drawTargets(answers[0]);
        drawChart(answers[1], now);
        drawTop("top-services", "top-service", answers[2], function (g) { return g.key.service || ""; });
        drawTop("top-items", "top-item", answers[3], function (g) { return g.key.item || ""; });
        drawServices(answers[4]);
        drawHotline(answers[5]);
        refreshes += 1;
        document.body.setAttribute("data-state", "ready");
        document.body.setAttribute("data-refreshes", String(refreshes));
        q('[data-testid="status"]').textContent = "Live";
        var stamp = q('[data-testid="updated-at"]');
        stamp.setAttribute("datetime", new Date(now).toISOString());
        stamp.textContent = zoneTime(new Date(now));
      })
      .catch(function (error) {
        document.body.setAttribute("data-state", "error");
        q('[data-testid="status"]').textContent = "Could not refresh: " + error.message;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    window.setInterval(refresh, REFRESH_MS);
  });
})();
