// Money in base units (cents, token base units) formatted in whole units: pure (no DOM), unit-tested in
// web/test/. Integer amounts arrive as strings (token amounts exceed 2**53): formatted without floats.

export interface Currency { symbol: string; decimals: number }

export const FIAT_MONEY: Record<string, Currency> = { usd: { symbol: "$", decimals: 2 }, eur: { symbol: "€", decimals: 2 },
  gbp: { symbol: "£", decimals: 2 } };

const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** "$1,234.50", "600 tUSD", "569.999988 tUSD": `amount` in base units of `currency`, whose decimals and
 * symbol are `info` (fiat: from FIAT_MONEY; a token: from the server's rails). Without info, or for an
 * amount that is not an integer, the base units are shown as they are. */
export function formatUnits(amount: string | number | bigint | null | undefined, currency: string | null | undefined,
  info: Currency | null): string {
  const text = String(amount ?? "0");
  if (!info || !/^-?\d+$/.test(text)) {
    const grouped = /^-?\d+$/.test(text) ? group(text) : text;
    return `${grouped} ${currency || ""}`.trim();
  }
  const negative = text.startsWith("-");
  const digits = (negative ? text.slice(1) : text).padStart(info.decimals + 1, "0");
  const whole = group(digits.slice(0, digits.length - info.decimals));
  const frac = digits.slice(digits.length - info.decimals);
  const sign = negative ? "-" : "";
  if (FIAT_MONEY[String(currency).toLowerCase()]) return `${sign}${info.symbol}${whole}.${frac}`;
  const shown = frac.replace(/0+$/, "");
  return `${sign}${whole}${shown ? `.${shown}` : ""} ${info.symbol}`;
}
