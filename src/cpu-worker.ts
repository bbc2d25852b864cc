/**
 * Entry of the CPU worker threads (workers/cpu-pool.ts starts them): every CPU-heavy task the
 * service runs off the event loop, by name. Built as its own file beside main.mjs by
 * scripts/bundle.mjs; run as it is from src/ under tsx.
 */
export { hashBcrypt, hashPassword, verifyArgon2, verifyBcrypt } from './auth/passwords/password-hashing.js';
export { drawQrTask } from './qr-render/draw-qr.js';
export { decodeQr } from './qr/scan-decode.js';
