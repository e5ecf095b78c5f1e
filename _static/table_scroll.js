// A table wider than the column scrolls inside the theme's container, and a phone shows no
// scroll bar: the container's edge fades where more of the table lies beyond it, and stops
// fading once the reader has scrolled to the table's end (_static/book.css). The caption,
// which stays in view, is left clear. (jupyter-book loads every .js file of _static/ on
// every page.)
document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll(".pst-scrollable-table-container")) {
    const caption = box.querySelector(":scope > table > caption");
    const fade = () => {
      box.classList.toggle("nnbook-more-left", box.scrollLeft > 1);
      box.classList.toggle("nnbook-more-right",
                           box.scrollLeft + box.clientWidth < box.scrollWidth - 1);
    };
    box.addEventListener("scroll", fade, {passive: true});
    // The caption's height changes with the width only, not with the scroll.
    new ResizeObserver(() => {
      box.style.setProperty("--nn-caption", `${caption ? caption.offsetHeight : 0}px`);
      fade();
    }).observe(box);
  }
});
