// The overview's module table: sort by a click on a column head, filter by text, grade and
// site. Plain script, no network. On load it records in <body> whether every image decoded.
(function () {
  "use strict";
  var table = document.getElementById("modules");
  var body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var rows = Array.prototype.slice.call(body.rows);

  function key(row, col, type) {
    var cell = row.cells[col];
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value")
                                              : cell.textContent.trim();
    if (raw === "") { return null; }
    return type === "num" ? parseFloat(raw) : raw.toLowerCase();
  }

  function sortBy(col) {
    var head = heads[col];
    var type = head.getAttribute("data-type");
    var dir = head.getAttribute("data-sort") === "asc" ? "desc" : "asc";
    heads.forEach(function (h) { h.removeAttribute("data-sort"); });
    head.setAttribute("data-sort", dir);
    var sign = dir === "asc" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = key(a, col, type), y = key(b, col, type);
      if (x === null || y === null) { return (x === null) - (y === null); }  // blanks last
      return x < y ? -sign : x > y ? sign : 0;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function filter() {
    var terms = document.getElementById("filter").value.toLowerCase().split(/\s+/)
      .filter(function (t) { return t; });
    var grade = document.getElementById("grade-filter").value;
    var site = document.getElementById("site-filter").value;
    var shown = 0;
    rows.forEach(function (r) {
      var text = r.textContent.toLowerCase();
      var ok = (!grade || r.getAttribute("data-grade") === grade) &&
               (!site || r.getAttribute("data-site") === site) &&
               terms.every(function (t) { return text.indexOf(t) >= 0; });
      r.hidden = !ok;
      shown += ok ? 1 : 0;
    });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " modules";
  }

  heads.forEach(function (h, i) { h.addEventListener("click", function () { sortBy(i); }); });
  ["filter", "grade-filter", "site-filter"].forEach(function (id) {
    var el = document.getElementById(id);
    el.addEventListener("input", filter);
    el.addEventListener("change", filter);
  });

  window.addEventListener("load", function () {
    var imgs = Array.prototype.slice.call(document.images);
    var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
    document.body.setAttribute("data-images", imgs.length);
    document.body.setAttribute("data-broken-images",
      bad.map(function (i) { return i.getAttribute("src"); }).join(" "));
  });
}());
