// As the quickstart's: development mode, the app's index.js to dist/main.js, nothing else.
const path = require('path');

module.exports = {
  mode: 'development',
  entry: './index.js',
  output: {
    filename: 'main.js',
    path: path.resolve(__dirname, 'dist'),
  },
};
