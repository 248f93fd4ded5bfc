import { html, render } from "./html.js";
import { App } from "./views/app.js";

const root = document.getElementById("app");
// The "Loading…" placeholder goes; Preact renders into an empty element.
root.replaceChildren();
render(html`<${App} />`, root);
