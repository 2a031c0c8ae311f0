// Small DOM helpers the demo's modules share: element lookup and creation, the status line,
// and errors shown to the user in words.

export const $ = (id) => document.getElementById(id);

/** `el('li', {class: 'x', 'aria-label': 'y'}, child, 'text')`. */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== false) element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...children.filter((c) => c !== undefined && c !== null));
  return element;
}

export function showStatus(message) {
  $('status').textContent = message;
}

let errorTimer;

/** Shows an error in words; API errors carry their code and subCode for support. */
export function showError(context, error) {
  const codes = error?.code !== undefined ? ` (${error.code}/${error.subCode})` : '';
  const message = error ? `${context}: ${error.message ?? error}${codes}` : context;
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (box.hidden = true), 15_000);
}

export function clearError() {
  $('error').hidden = true;
}

/** Runs a user action; a failure is shown, never left as an unhandled rejection. */
export async function act(context, action) {
  try {
    clearError();
    return await action();
  } catch (error) {
    showError(context, error);
    return undefined;
  }
}

/** Two-letter initials for a name's avatar. */
export function initials(name) {
  const words = (name || '?').trim().split(/\s+/);
  return words
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('');
}

/** Copies text, saying whether it worked. */
export async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    showStatus(`${what} copied.`);
  } catch {
    showError(`Copying is not allowed here; select the ${what.toLowerCase()} and copy it by hand.`);
  }
}
