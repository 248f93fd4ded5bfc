import { h, render } from "../vendor/preact/preact.mjs";
render(h("p", null, "stub"), document.getElementById("app"));
