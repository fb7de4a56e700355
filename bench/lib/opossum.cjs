// opossum is CommonJS with a default export; re-export it under a stable name for ESM.
module.exports = { CircuitBreaker: require('opossum') };
