// The briefing page's print button (no inline script: the pages' CSP allows only ours).
"use strict";
document.getElementById("print").addEventListener("click", () => window.print());
