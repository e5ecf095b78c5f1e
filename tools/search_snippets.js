/* Search results whose snippets show typeset maths, not raw TeX.
 *
 * Loaded on the search page only, with MathJax (tools/book_extension.py, search_page_maths).
 * Sphinx's searchtools.js shows under each result 240 characters of the page's text around
 * the last search word it finds. That text is the page's HTML as built, where every formula
 * is still TeX (\(...\), \[...\]) for MathJax to typeset in the browser, so snippets read
 * "\(\frac{\partial L}{\partial w}\)". This replaces Search.makeSearchSummary with the same
 * window, except that a formula is never cut: each one counts as a single character while
 * the window is chosen, then comes back as a formula and MathJax typesets the snippet.
 */
"use strict";

(() => {
  if (typeof Search === "undefined" || !Search.makeSearchSummary) return;
  const MARK = "\uE000"; // a private-use character: stands for one formula in the text
  const CONTEXT = 120;   // as searchtools.js: characters before the word, 240 in all

  // The TeX of a .math element, without its delimiters, equation number or label; display
  // environments become their inline forms, since the snippet is one line of text.
  const texOf = (element) => {
    element.querySelectorAll(".eqno, .headerlink").forEach((e) => e.remove());
    return element.textContent.trim()
      .replace(/^\\\(|\\\)$/g, "").replace(/^\\\[|\\\]$/g, "").replace(/^\$\$|\$\$$/g, "")
      .replace(/\\begin\{(align|equation|gather)\*?\}/g, "\\begin{aligned}")
      .replace(/\\end\{(align|equation|gather)\*?\}/g, "\\end{aligned}")
      .replace(/\\(label|tag)\{[^}]*\}/g, "")
      .trim();
  };

  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    const doc = new DOMParser().parseFromString(htmlText, "text/html");
    for (const query of [".headerlink", "script", "style"]) {
      doc.querySelectorAll(query).forEach((e) => e.remove());
    }
    // The page's article: [role="main"] also holds the theme's header (the download menu's
    // ".ipynb .py .md .pdf", the page's contents), which Sphinx's snippets began with.
    const main = (anchor && doc.querySelector(`[role="main"] ${anchor}`))
      || doc.querySelector('[role="main"] article') || doc.querySelector('[role="main"]');
    if (!main) return null;
    const formulas = [];
    main.querySelectorAll(".math").forEach((element) => {
      formulas.push(texOf(element));
      element.replaceWith(doc.createTextNode(MARK));
    });
    const text = main.textContent.replace(/\s+/g, " ");
    if (!text.trim()) return null;

    const lower = text.toLowerCase();
    const found = [...keywords].map((k) => lower.indexOf(k.toLowerCase())).filter((i) => i > -1);
    const start = Math.max((found.length ? found[found.length - 1] : 0) - CONTEXT, 0);
    const end = start + 2 * CONTEXT;
    const before = text.slice(0, start).split(MARK).length - 1; // formulas before the window

    const summary = document.createElement("p");
    summary.classList.add("context");
    if (start > 0) summary.append("...");
    text.slice(start, end).trim().split(MARK).forEach((piece, i) => {
      if (i > 0) {
        const math = document.createElement("span");
        math.className = "math notranslate nohighlight"; // nohighlight: search words stay out of TeX
        math.textContent = `\\(${formulas[before + i - 1]}\\)`;
        summary.append(math);
      }
      summary.append(piece);
    });
    if (end < text.length) summary.append("...");
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(() => MathJax.typesetPromise([summary]));
    }
    return summary;
  };
})();
