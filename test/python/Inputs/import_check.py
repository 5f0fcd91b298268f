import attnc
import attnc._native

print(attnc.__file__)
print(attnc._native.__file__)
print(sorted(attnc.__all__))
