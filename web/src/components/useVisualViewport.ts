// Keeping the composer above a phone's on-screen keyboard. Browsers that only shrink the visual
// viewport for the keyboard (Safari; Chrome unless the page asks otherwise) leave `100dvh` as tall
// as before, so the bottom of the page, the composer, ends up behind the keyboard. While the visual
// viewport is shorter than the layout viewport at normal zoom, the chat takes its height instead
// and moves with it.
import { onBeforeUnmount, ref, type Ref } from 'vue';

/** The part of window.visualViewport used here. */
export interface ViewportLike {
  height: number;
  offsetTop: number;
  scale: number;
}

export interface ViewportFit {
  /** The height the page may use, in CSS pixels. */
  height: number;
  /** How far the visual viewport is scrolled down the layout viewport. */
  offsetTop: number;
}

/**
 * The area above the keyboard, or null when the whole layout viewport is visible (no keyboard) or
 * the person zoomed in (then the browser's own panning is what they expect).
 */
export function keyboardFit(viewport: ViewportLike, layoutHeight: number): ViewportFit | null {
  if (Math.abs(viewport.scale - 1) > 0.01) return null;
  if (viewport.height >= layoutHeight - 1) return null;
  return { height: Math.round(viewport.height), offsetTop: Math.round(viewport.offsetTop) };
}

/** The fit, kept current while the component lives (null without a visual viewport). */
export function useKeyboardFit(): Ref<ViewportFit | null> {
  const fit = ref<ViewportFit | null>(null);
  if (typeof window === 'undefined' || !window.visualViewport) return fit;
  const viewport = window.visualViewport;
  const update = () => {
    fit.value = keyboardFit(viewport, window.innerHeight);
  };
  viewport.addEventListener('resize', update);
  viewport.addEventListener('scroll', update);
  update();
  onBeforeUnmount(() => {
    viewport.removeEventListener('resize', update);
    viewport.removeEventListener('scroll', update);
  });
  return fit;
}
