import ArgumentParser
print("qwenvl")
