import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './styles/index.css';
import { initI18n } from './i18n';
import { App } from './App';
import { applyTheme, readTheme } from './theme/theme';

applyTheme(readTheme());
void initI18n().then(() => {
  const root = document.getElementById('root');
  if (!root) throw new Error('index.html lacks #root');
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
});
