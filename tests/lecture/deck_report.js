// Injected into an exported deck by tests/lecture/test_deck.py: visits every slide at the window's size
// (1280 x 720), after MathJax has typeset it, and writes what it measured as JSON into a pre element
// of id deck-report, once the page (reveal.js included) has loaded.
(function () {
    const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const typeset = (node) =>
        new Promise((resolve) => (window.MathJax ? MathJax.Hub.Queue(["Rerender", MathJax.Hub, node], resolve) : resolve()));
    const describe = (el) => (el.className || el.tagName).toString().slice(0, 60);

    async function measure() {
        if (window.MathJax) await new Promise((resolve) => MathJax.Hub.Queue(resolve));
        const slides = Array.from(document.querySelectorAll(".reveal .slides > section > section"));
        const config = Reveal.getConfig();
        const report = { slides: [], size: [config.width, config.height] };
        for (const slide of slides) {
            const where = Reveal.getIndices(slide);
            Reveal.slide(where.h, where.v);
            await wait(30);
            await typeset(slide);
            const problems = [];
            if (slide.scrollHeight > slide.clientHeight + 2)
                problems.push(`content ${slide.scrollHeight} px tall in a slide of ${slide.clientHeight}`);
            if (slide.scrollWidth > slide.clientWidth + 2)
                problems.push(`content ${slide.scrollWidth} px wide in a slide of ${slide.clientWidth}`);
            for (const block of slide.querySelectorAll("pre, .jp-OutputArea-output, .MathJax_Display, table")) {
                if (block.scrollWidth > block.clientWidth + 2)
                    problems.push(`${describe(block)}: ${block.scrollWidth} px wide in a box of ${block.clientWidth}`);
            }
            const box = slide.getBoundingClientRect();
            for (const image of slide.querySelectorAll("img")) {
                const r = image.getBoundingClientRect();
                if (r.right > box.right + 2 || r.bottom > box.bottom + 2)
                    problems.push(`an image ends at (${r.right}, ${r.bottom}) outside the slide (${box.right}, ${box.bottom})`);
            }
            const notes = slide.querySelector("aside.notes");
            const heading = slide.querySelector("h1, h2, h3");
            report.slides.push({
                index: `${where.h}/${where.v}`,
                title: heading ? heading.textContent.replace("¶", "").trim() : "",
                problems: problems,
                notes: notes ? notes.textContent.trim().length : 0,
                images: slide.querySelectorAll("img").length,
                text: (slide.innerText || "").replace(notes ? notes.innerText || "" : "", "").trim().length,
            });
        }
        const out = document.createElement("pre");
        out.id = "deck-report";
        out.textContent = JSON.stringify(report);
        document.body.appendChild(out);
    }

    const start = () => measure().catch((error) => {
        const out = document.createElement("pre");
        out.id = "deck-report";
        out.textContent = JSON.stringify({ error: String(error) });
        document.body.appendChild(out);
    });
    window.addEventListener("load", () => (Reveal.isReady() ? start() : Reveal.on("ready", start)));
})();
