/* On a phone, wide lists are drawn as stacked cards (see "Lists on a phone" in app.css); each cell
 * then shows its column's name, taken from the table's header here so that every list, present and
 * future, gets it without repeating the header text on every cell. A cell that already has a
 * data-label keeps it; an empty one is skipped. Without script the cards still stack, unlabelled.
 */
(function () {
  "use strict";
  var tables = document.querySelectorAll("main table");
  Array.prototype.forEach.call(tables, function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) {
      return;
    }
    var names = Array.prototype.map.call(head.cells, function (cell) {
      return cell.textContent.trim();
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        if (row.cells.length !== names.length) {
          return;  // a full-width row (a payload, an empty list): no column to name
        }
        Array.prototype.forEach.call(row.cells, function (cell, index) {
          if (!cell.hasAttribute("data-label") && names[index]) {
            cell.setAttribute("data-label", names[index]);
          }
        });
      });
    });
  });
}());
