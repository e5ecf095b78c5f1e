// A figure drawn at the column's width is hard to read on a phone: a tap on it opens the
// image alone, at its full size, where the reader can zoom. (jupyter-book loads every .js
// file of _static/ on every page.)
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll("article .cell_output img")) {
    if (img.closest("a")) continue;
    const link = document.createElement("a");
    link.href = img.currentSrc || img.src;
    link.title = "the figure alone, at full size";
    img.replaceWith(link);
    link.appendChild(img);
  }
});
