// MathJax 4 breaks a displayed formula into lines to fit its column, measured when the page
// is typeset (tools/book_mathjax.py). A formula whose width changes later is measured and
// broken again: a phone turned, a window resized, and a formula inside a solution or a
// folded cell, which had no width at all while it was hidden (MathJax then breaks nothing).
// window.nnbookMathReflow is the promise of the latest reflow (tools/check_html.py waits
// for it).
(() => {
  const widths = new Map();
  let timer = null;
  window.nnbookMathReflow = Promise.resolve();

  function reflow() {
    const MJ = window.MathJax;
    // From the METRICS state on: every formula's column is measured again, then typeset.
    window.nnbookMathReflow = window.nnbookMathReflow.then(
      () => MJ.startup.document.rerenderPromise(MJ._.core.MathItem.STATE.METRICS));
  }

  const observer = new ResizeObserver((entries) => {
    let changed = false;
    for (const entry of entries) {
      const width = Math.round(entry.contentRect.width);
      if (widths.get(entry.target) !== width) {
        changed = changed || widths.has(entry.target);
        widths.set(entry.target, width);
      }
    }
    if (changed) {
      clearTimeout(timer);
      timer = setTimeout(reflow, 150);
    }
  });

  window.addEventListener("load", async () => {
    const MJ = window.MathJax;
    if (!MJ?.startup?.promise || !MJ._?.core?.MathItem) return;
    await MJ.startup.promise;
    for (const block of document.querySelectorAll("div.math")) observer.observe(block);
  });
})();
