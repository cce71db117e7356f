import { csvField, csvLine } from './csv';

describe('csv', () => {
  it('leaves plain fields alone and writes null as an empty field', () => {
    expect(csvLine(['a', 1.5, null, undefined, ''])).toBe('a,1.5,,,\r\n');
  });

  it('quotes fields with a comma, quote or line break and doubles their quotes', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
  });
});
