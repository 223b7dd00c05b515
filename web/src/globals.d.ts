// What other scripts put on `window`: a browser wallet (EIP-1193) and Stripe.js (loaded from js.stripe.com).
import type { Json } from "./api.js";

declare global {
  interface Window {
    /** An injected EIP-1193 provider (a browser wallet extension). */
    ethereum?: { request(args: { method: string; params?: unknown[] }): Promise<Json> };
    /** Stripe.js's constructor, once its script has loaded. */
    Stripe?: (publishableKey: string) => Json;
    /** Read-only views of the annotation page's state, for tests and the benchmark (annotate.ts). */
    __tilework: Record<string, unknown>;
  }
}
