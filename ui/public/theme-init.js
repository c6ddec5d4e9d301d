// Runs before the first paint (a blocking classic script; the CSP forbids inline ones) so that
// a saved dark theme never flashes light. The key and values match src/theme/theme.ts.
(function () {
  var t = null;
  try {
    t = window.localStorage.getItem('tenantra.theme');
  } catch (e) {
    t = null;
  }
  if (t !== 'light' && t !== 'dark') {
    t =
      window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches
        ? 'dark'
        : 'light';
  }
  document.documentElement.classList.toggle('dark', t === 'dark');
  document.documentElement.style.colorScheme = t;
})();
