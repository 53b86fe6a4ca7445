/* The operators' audit page: the latest audit records from /ops/audit with the filters of the
   form, newest first, and older pages on demand (next_cursor). Plain JS, no libraries, nothing
   written as HTML (text only). Times in the gateway's zone (body data-timezone). */
"use strict";

(function () {
  var FIELDS = ["since", "until", "kind", "service", "operation", "client", "subject", "outcome", "action"];
  var zone = document.body.getAttribute("data-timezone") || "UTC";
  var cursor = null;
  var loaded = 0;
  var latest = 0; /* the last load asked for: an older answer arriving late is ignored */

  function q(selector) {
    return document.querySelector(selector);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] !== undefined && attrs[name] !== null) node.setAttribute(name, String(attrs[name]));
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function zoneTime(iso) {
    try {
      return new Intl.DateTimeFormat("sv-SE", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
      }).format(new Date(iso));
    } catch (e) {
      return iso;
    }
  }

  function filters() {
    var form = q('[data-testid="audit-filters"]');
    var params = new URLSearchParams();
    FIELDS.forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    });
    return params;
  }

  function showError(text) {
    var box = q('[data-testid="audit-error"]');
    box.textContent = text || "";
    box.hidden = !text;
  }

  function row(r) {
    var tr = el("tr", { "data-testid": "audit-row", "data-kind": r.kind, "data-seq": r.seq, "data-writer": r.writer });
    tr.appendChild(el("td", { "data-testid": "audit-at", "data-at": r.at, title: r.at }, zoneTime(r.at)));
    tr.appendChild(el("td", null, r.kind));
    tr.appendChild(el("td", { "data-testid": "audit-who" }, r.kind === "admin" ? r.actor : r.client_id || "–"));
    var what = r.kind === "admin" ? r.action : (r.service || "–") + (r.operation_id ? " · " + r.operation_id : "");
    tr.appendChild(el("td", { "data-testid": "audit-what" }, what));
    var object = el("td", { "data-testid": "audit-object" }, r.object || "");
    if (r.summary !== null && r.summary !== undefined) object.setAttribute("title", JSON.stringify(r.summary));
    tr.appendChild(object);
    tr.appendChild(el("td", { class: "num" }, r.status === null ? "" : r.status));
    tr.appendChild(el("td", { "data-testid": "audit-outcome" }, r.outcome || ""));
    tr.appendChild(el("td", null, r.request_id || ""));
    tr.appendChild(el("td", null, r.writer + " · " + r.seq));
    return tr;
  }

  function load(more) {
    var params = filters();
    if (more && cursor) params.set("cursor", cursor);
    var ticket = ++latest;
    document.body.setAttribute("data-state", "loading");
    return fetch("/ops/audit?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/ops/login");
          throw new Error("signed out");
        }
        return response.json().then(function (body) {
          if (!response.ok) {
            var errors = (body.errors || []).map(function (e) {
              return e.pointer.replace("/query/", "") + ": " + e.detail;
            });
            throw new Error(errors.length ? errors.join("; ") : body.detail || "status " + response.status);
          }
          return body;
        });
      })
      .then(function (page) {
        if (ticket !== latest) return;
        var body = q('[data-testid="audit-records"] tbody');
        var rows = page.records.map(row);
        if (more) {
          rows.forEach(function (tr) { body.appendChild(tr); });
          loaded += rows.length;
        } else {
          loaded = rows.length;
          if (!rows.length) {
            var empty = el("tr");
            empty.appendChild(el("td", { colspan: 9, class: "empty" }, "no records"));
            rows = [empty];
          }
          body.replaceChildren.apply(body, rows);
        }
        cursor = page.next_cursor;
        q('[data-testid="audit-more"]').hidden = !cursor;
        showError(null);
        q('[data-testid="audit-status"]').textContent = loaded + " records shown";
        document.body.setAttribute("data-state", "ready");
        document.body.setAttribute("data-records", String(loaded));
      })
      .catch(function (error) {
        if (ticket !== latest) return;
        showError(error.message);
        q('[data-testid="audit-status"]').textContent = "Could not load";
        document.body.setAttribute("data-state", "error");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    /* The page's own query string fills the form: a filtered view can be linked to. */
    var given = new URLSearchParams(window.location.search);
    var form = q('[data-testid="audit-filters"]');
    FIELDS.forEach(function (name) {
      if (given.has(name)) form.elements[name].value = given.get(name);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var params = filters();
      window.history.replaceState(null, "", "?" + params.toString());
      load(false);
    });
    q('[data-testid="audit-more"]').addEventListener("click", function () {
      load(true);
    });
    load(false);
  });
})();
