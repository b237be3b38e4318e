// Renders each <div data-pdf="URL"> as canvases, one per page (at most 10),
// with pdf.js served by the app (no eval, no XFA forms, no scripting).
import * as pdfjsLib from "/static/vendor/pdf.min.mjs";

pdfjsLib.GlobalWorkerOptions.workerSrc = "/static/vendor/pdf.worker.min.mjs";
const MAX_PAGES = 10;

for (const box of document.querySelectorAll("[data-pdf]")) {
  try {
    const doc = await pdfjsLib.getDocument({
      url: box.dataset.pdf,
      isEvalSupported: false,
      enableXfa: false,
    }).promise;
    const pages = Math.min(doc.numPages, MAX_PAGES);
    for (let n = 1; n <= pages; n++) {
      const page = await doc.getPage(n);
      const viewport = page.getViewport({ scale: 1.25 });
      const canvas = document.createElement("canvas");
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `page ${n} of ${doc.numPages}`);
      box.appendChild(canvas);
      await page.render({ canvasContext: canvas.getContext("2d"), viewport }).promise;
    }
    if (doc.numPages > pages) {
      const more = document.createElement("p");
      more.textContent = `${doc.numPages - pages} more pages: download the file to read them`;
      box.appendChild(more);
    }
    box.dataset.rendered = String(pages);
  } catch (err) {
    box.textContent = "This PDF cannot be shown here; download it instead.";
    box.dataset.rendered = "error";
  }
}
