/** DATETIME text (`YYYY-MM-DD HH:MM:SS`, local time, as the reference writes it) ↔ epoch s. */
export function datetimeToEpoch(text: string | null | undefined): number {
  if (!text) return 0;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (!m) return 0;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return Math.floor(new Date(y, mo - 1, d, h, mi, s).getTime() / 1000);
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function epochToDatetime(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
