import { describe, expect, it } from 'vitest';
import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { THEME_KEY, applyTheme, readTheme, useTheme } from './theme';

function Toggle() {
  const [theme, toggle] = useTheme();
  return (
    <button type="button" onClick={toggle}>
      theme is {theme}
    </button>
  );
}

describe('theme', () => {
  it('persists the choice and applies it to <html>', async () => {
    applyTheme('light');
    render(<Toggle />);
    expect(screen.getByRole('button')).toHaveTextContent('theme is light');
    await userEvent.setup().click(screen.getByRole('button'));
    expect(screen.getByRole('button')).toHaveTextContent('theme is dark');
    expect(window.localStorage.getItem(THEME_KEY)).toBe('dark');
    expect(document.documentElement).toHaveClass('dark');
    // A new page load reads the saved choice.
    expect(readTheme()).toBe('dark');
    await act(async () => {
      await userEvent.setup().click(screen.getByRole('button'));
    });
    expect(window.localStorage.getItem(THEME_KEY)).toBe('light');
    expect(document.documentElement).not.toHaveClass('dark');
  });

  it('ignores garbage in storage', () => {
    window.localStorage.setItem(THEME_KEY, 'purple');
    expect(['light', 'dark']).toContain(readTheme());
  });
});
