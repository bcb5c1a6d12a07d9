// The overview's tables: sort by a click on a column head; the module table also filters by
// text, grade and site. Plain script, no network. On load it records in <body> whether every
// image decoded (read by the browser test).
(function () {
  "use strict";
  function key(row, col, type) {
    var cell = row.cells[col];
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value")
                                              : cell.textContent.trim();
    if (raw === "") { return null; }
    return type === "num" ? parseFloat(raw) : raw.toLowerCase();
  }

  // Every table of class "sortable": a click on a column head sorts by it (again: reversed).
  function sortable(table) {
    var body = table.tBodies[0];
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (head, col) {
      head.addEventListener("click", function () {
        var type = head.getAttribute("data-type");
        var dir = head.getAttribute("data-sort") === "asc" ? "desc" : "asc";
        heads.forEach(function (h) { h.removeAttribute("data-sort"); });
        head.setAttribute("data-sort", dir);
        var sign = dir === "asc" ? 1 : -1;
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a, col, type), y = key(b, col, type);
          if (x === null || y === null) { return (x === null) - (y === null); }  // blanks last
          return x < y ? -sign : x > y ? sign : 0;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  Array.prototype.slice.call(document.querySelectorAll("table.sortable")).forEach(sortable);
  var rows = Array.prototype.slice.call(document.getElementById("modules").tBodies[0].rows);

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

  ["filter", "grade-filter", "site-filter"].forEach(function (id) {
    var el = document.getElementById(id);
    el.addEventListener("input", filter);
    el.addEventListener("change", filter);
  });

}());
