import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { applyTheme, loadTheme } from './lib/prefs';
import { listenForOpenRoutes } from './notify/routes';
import './styles.css';

applyTheme(loadTheme());

const root = document.getElementById('root');
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}

// The service worker caches the app shell (never messages), so Parley opens offline and installs as an app, and
// shows notifications when a content-free push wakes it with no tab open (notify/). A click on one opens its conversation here.
if ('serviceWorker' in navigator && import.meta.env.PROD) {
  listenForOpenRoutes();
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => undefined);
  });
}
