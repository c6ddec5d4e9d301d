import { describe, expect, it } from 'vitest';
import { SseParser } from './sse';

describe('SseParser', () => {
  it('splits events across chunk boundaries and skips comments', () => {
    const p = new SseParser();
    expect(p.feed('event: progress\nid: 1\nda')).toEqual([]);
    expect(
      p.feed('ta: {"a":1}\n\n: keep-alive\n\nevent: done\r\ndata: x\r\ndata: y\r\n\r\n'),
    ).toEqual([
      { event: 'progress', data: '{"a":1}' },
      { event: 'done', data: 'x\ny' },
    ]);
  });
});
