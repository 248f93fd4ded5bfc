// Preact with htm: components written as tagged templates, so no build step is needed.
import { Component, h, render } from "../vendor/preact/preact.mjs";
import htm from "../vendor/htm/htm.mjs";

export {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "../vendor/preact/hooks.mjs";
export { Component, h, render };

export const html = htm.bind(h);

function shallowEqual(a, b) {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.is(a[key], b[key]));
}

// Skips re-rendering a component whose props did not change (preact/compat's memo, without compat).
export function memo(component) {
  class Memo extends Component {
    shouldComponentUpdate(next) {
      return !shallowEqual(this.props, next);
    }
    render(props) {
      return h(component, props);
    }
  }
  Memo.displayName = `Memo(${component.name})`;
  return Memo;
}
