// Pick the theme before first paint: saved choice, else the system's. A file, not an inline
// script, so that the Content-Security-Policy can say script-src 'self' (backend boundary.py).
const saved = localStorage.getItem('lazyaf.theme');
document.documentElement.dataset.theme =
  saved ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
