import { describeReadmeExample } from '../../../tools/test/readme-example.js';

describeReadmeExample(import.meta.dirname);
