import assert from "node:assert/strict";
import { test } from "node:test";

import { badgeCount, clock, duration, initial, money, toDate, when } from "../../handoff/static/shared/format.js";

test("toDate reads ISO strings, epoch seconds and milliseconds", () => {
  assert.equal(toDate("2025-06-18T06:05:00.000Z").toISOString(), "2025-06-18T06:05:00.000Z");
  assert.equal(toDate(1750226700).toISOString(), "2025-06-18T06:05:00.000Z");
  assert.equal(toDate(1750226700000).toISOString(), "2025-06-18T06:05:00.000Z");
  assert.equal(toDate(null), null);
  assert.equal(toDate(""), null);
  assert.equal(toDate("not a date"), null);
});

test("clock and when show local time, with the date only on another day", () => {
  const d = new Date(2025, 5, 18, 9, 5);
  assert.equal(clock(d), "09:05");
  assert.equal(when(d, new Date(2025, 5, 18, 23, 0)), "09:05");
  assert.equal(when(d, new Date(2025, 5, 19, 1, 0)), "6月18日 09:05");
  assert.equal(when(null), "");
  assert.match(clock(), /^\d\d:\d\d$/);
});

test("duration", () => {
  assert.deepEqual([0, 45, 60, 187, 3900].map(duration), ["0 秒", "45 秒", "1:00", "3:07", "1 小时 5 分"]);
  assert.equal(duration(null), "—");
  assert.equal(duration(-5), "0 秒");
});

test("money, initial, badgeCount", () => {
  assert.equal(money(399), "¥399.00");
  assert.equal(money(null), "");
  assert.equal(initial("客服 小李"), "小");
  assert.equal(initial("张伟"), "张");
  assert.equal(initial("", "客"), "客");
  assert.equal(badgeCount(7), "7");
  assert.equal(badgeCount(120), "99+");
});
