// A table in a formula keeps its columns on a phone: the formula scrolls rather than break it.
//
// MathJax 4 breaks a displayed formula too wide for its column into lines
// (tools/book_mathjax.py). Between the terms of a formula that works well. Inside a table of
// several columns (an aligned derivation, a matrix, cases) it does not: MathJax shrinks all
// the columns together, so it breaks left-hand sides too ("<G, X" over "dW> = ...") and the
// entries of a matrix, and it centres the broken lines in their cells, so the relations of a
// derivation no longer line up. So each displayed formula is typeset as usual, and if that
// broke a line inside such a table, typeset again as MathJax 3 did, at its natural width
// ("overflow"): it keeps its columns and scrolls inside its box, with the shadows of
// _static/book.css at the edge that say it runs on. tools/check_html.py checks the result.
//
// Runs before MathJax loads (jupyter-book adds this file after the page's MathJax
// configuration, and MathJax is deferred). It wraps the output's typesetting of each
// formula, the first time and whenever _static/math_reflow.js typesets it again; written for
// MathJax 4.1 (tools/book_mathjax.py pins it).
(() => {
  const config = window.MathJax;
  if (!config || config.version) return; // no maths on this page, or MathJax already loaded

  // Whether MathJax broke a line inside a table of several columns of the typeset formula.
  function brokeATable(node) {
    for (const table of node.querySelectorAll("mjx-mtable")) {
      const rows = table.querySelectorAll(":scope > mjx-table > mjx-itable > mjx-mtr");
      const columns = [...rows].some((row) => row.querySelectorAll(":scope > mjx-mtd").length > 1);
      if (columns && table.querySelector("mjx-linestack")) return true;
    }
    return false;
  }

  const ready = config.startup?.ready;
  config.startup = {
    ...config.startup,
    ready() {
      const MJ = window.MathJax;
      if (ready) ready();
      else MJ.startup.defaultReady();
      const output = MJ.startup.document.outputJax;
      const typeset = output.typeset.bind(output);
      output.typeset = (math, html) => {
        const node = typeset(math, html);
        if (!math.display || !brokeATable(node)) return node;
        const { options } = output;
        const overflow = options.displayOverflow;
        options.displayOverflow = "overflow";
        // MathJax keeps the width it broke the last formula for, and would shrink the
        // table's columns to it; with "overflow" everywhere it is never set.
        output.containerWidth = undefined;
        try {
          return typeset(math, html);
        } finally {
          options.displayOverflow = overflow;
        }
      };
    },
  };
})();
