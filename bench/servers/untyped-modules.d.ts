// The express peer's packages ship no types and the bench does not need them: typed as `any` here,
// with the few shapes the routes use declared next to the routes (express-session-server.ts).
declare module "connect-memcached";
declare module "express";
declare module "express-session";
