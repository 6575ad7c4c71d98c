/** Pages of the shop example: plain HTML strings, every value from the user escaped. */

/** PRODUCTS are what the shop sells. */
export const PRODUCTS = ["apples", "pears", "plums", "figs"] as const;

/** Device is one row of the "your devices" page. */
export interface Device {
  handle: string;
  userAgent: string;
  lastSeen: string;
  current: boolean;
}

const html = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${html(title)}</title></head><body>${body}</body></html>`;
}

/** loginPage asks for a user name: the login moment, when the session gets a new id and a principal. */
export function loginPage(): string {
  return page(
    "Shop: log in",
    `<h1>Log in</h1>
<form method="post" action="/login"><input name="user" id="user" required> <button id="login">Log in</button></form>`,
  );
}

/** shopPage shows the cart (one session key per product) and a button per product. */
export function shopPage(user: string, cart: Record<string, number>): string {
  const items = Object.entries(cart).map(
    ([product, count]) => `<li class="item" data-product="${html(product)}">${html(product)}: ${count}</li>`,
  );
  const buttons = PRODUCTS.map(
    (product) =>
      `<form method="post" action="/cart"><input type="hidden" name="product" value="${product}"><button id="add-${product}">Add ${product}</button></form>`,
  );
  return page(
    "Shop",
    `<h1 id="hello">Hello, ${html(user)}</h1>
<h2>Your cart</h2><ul id="cart">${items.join("") || "<li>empty</li>"}</ul>
${buttons.join("\n")}
<p><a href="/devices" id="devices">Your devices</a></p>
<form method="post" action="/logout-everywhere"><button id="logout-everywhere">Log out everywhere</button></form>`,
  );
}

/** devicesPage lists the user's live sessions by handle (never by session id), this one marked. */
export function devicesPage(user: string, devices: readonly Device[]): string {
  const rows = devices.map(
    (d) =>
      `<tr class="device${d.current ? " current" : ""}"><td>${html(d.handle.slice(0, 8))}</td><td>${html(d.userAgent)}</td><td>${html(d.lastSeen)}</td><td>${d.current ? "this device" : ""}</td></tr>`,
  );
  return page(
    "Your devices",
    `<h1>${html(user)}'s devices</h1>
<table id="devices"><tr><th>handle</th><th>browser</th><th>last seen</th><th></th></tr>${rows.join("")}</table>
<form method="post" action="/logout-everywhere"><button id="logout-everywhere">Log out everywhere</button></form>
<p><a href="/">Back to the shop</a></p>`,
  );
}
