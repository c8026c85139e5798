// The main console's own scripts (appended to the console's /assets/console.js).
